package alb_test

import "testing"

func TestSmokeForward(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.startBackend("one", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, b.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	c := client(e.clientAddr(0))
	for i := 0; i < 3; i++ {
		ec := getEcho(t, c, base+"/hello?x=1", nil)
		if ec.ID != "one" || ec.URI != "/hello?x=1" {
			t.Fatalf("echo %+v", ec)
		}
		t.Logf("%+v", ec)
	}
}
