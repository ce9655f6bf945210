// Package impersonate makes a Kubernetes client configuration act as a
// ServiceAccount, through the API server's impersonation, and reports each
// request the API server forbids it: a controller run this way has the
// permissions RBAC gives that ServiceAccount and no more, and a missing
// rule shows up as a report rather than as a retry hidden in a log.
package impersonate

import (
	"net/http"

	"k8s.io/client-go/rest"
)

// Forbidden is a request the API server answered 403 Forbidden.
type Forbidden struct {
	// Method and Path are the request's, e.g. PATCH
	// /apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status.
	Method, Path string
}

// ServiceAccountUser is the user name of a ServiceAccount.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// ServiceAccount returns a copy of cfg (whose user may impersonate, as an
// administrator may) that acts as the ServiceAccount namespace/name; the
// API server adds its groups. forbidden, when not nil, is called for
// every request answered 403.
func ServiceAccount(cfg *rest.Config, namespace, name string, forbidden func(Forbidden)) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: ServiceAccountUser(namespace, name)}
	if forbidden != nil {
		wrap := c.WrapTransport
		c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			if wrap != nil {
				rt = wrap(rt)
			}
			return watcher{next: rt, report: forbidden}
		}
	}
	return c
}

type watcher struct {
	next   http.RoundTripper
	report func(Forbidden)
}

func (w watcher) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		w.report(Forbidden{Method: r.Method, Path: r.URL.Path})
	}
	return resp, err
}
