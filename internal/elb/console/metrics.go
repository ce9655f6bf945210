package console

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// Sample is one reading of the live figures. Each series has four
// figures, null where the series has none:
//
//	0: requests per second (ALB RequestCount; NLB NewFlowCount: new flows)
//	1: errors per second (ALB HTTPCode_ELB_5XX_Count + HTTPCode_Target_5XX_Count;
//	   NLB TCP_ELB_Reset_Count + TCP_Target_Reset_Count)
//	2: mean target response time in milliseconds over the interval (ALB
//	   TargetResponseTime)
//	3: active now: a load balancer's client connections (ALB
//	   ActiveConnectionCount, NLB ActiveFlowCount); a target group's and a
//	   target's requests in flight to targets (ALB) or open flows (NLB)
//
// Series are named "lb:DIM" and "tg:DIM" (DIM = state.Dimension of the
// ARN) and "t:KEY" (KEY = state.TargetKey); a target without a series has
// nothing in flight.
type Sample struct {
	Time   int64                  `json:"t"` // Unix milliseconds
	Series map[string][4]*float64 `json:"series"`
}

// The series' figures.
const (
	figRequests = iota
	figErrors
	figLatency
	figActive
)

// Activity reports what a data plane has in flight per target, by
// state.TargetKey: requests in flight (ALB) or open flows (NLB).
type Activity func() map[string]int

// sampler turns the data planes' counters (read from the registry that
// /metrics serves) into rates, one Sample per call.
type sampler struct {
	gather   prometheus.Gatherer
	activity []Activity

	prev   map[string]raw
	prevAt time.Time
}

// raw are a series' counters and gauges at one reading.
type raw struct {
	req, err, latSum, latCount, act float64
	hasReq, hasLat, hasAct          bool
}

func newSampler(g prometheus.Gatherer, activity []Activity) *sampler {
	return &sampler{gather: g, activity: activity}
}

// sample reads every series and returns the rates since the last call.
func (s *sampler) sample(now time.Time) (Sample, error) {
	cur, err := s.read()
	if err != nil {
		return Sample{}, err
	}
	out := Sample{Time: now.UnixMilli(), Series: make(map[string][4]*float64, len(cur))}
	dt := now.Sub(s.prevAt).Seconds()
	first := s.prevAt.IsZero() || dt <= 0
	for k, c := range cur {
		var f [4]*float64
		p := s.prev[k] // a series born since the last reading started at 0
		if c.hasReq && !first {
			f[figRequests] = num(math.Max(c.req-p.req, 0) / dt)
			f[figErrors] = num(math.Max(c.err-p.err, 0) / dt)
		}
		if c.hasLat && !first {
			if n := c.latCount - p.latCount; n > 0 {
				f[figLatency] = num((c.latSum - p.latSum) / n * 1000)
			}
		}
		if c.hasAct {
			f[figActive] = num(c.act)
		}
		out.Series[k] = f
	}
	s.prev, s.prevAt = cur, now
	return out, nil
}

// read gathers the data planes' metric families and the planes' activity.
func (s *sampler) read() (map[string]raw, error) {
	fams, err := s.gather.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	series := map[string]raw{}
	add := func(key string, v raw) {
		r := series[key]
		r.add(v)
		series[key] = r
	}
	for _, fam := range fams {
		fig, ok := figures[fam.GetName()]
		if !ok {
			continue
		}
		for _, m := range fam.GetMetric() {
			lb, tg := label(m, "load_balancer"), label(m, "target_group")
			if lb == "" {
				continue
			}
			v := fig.read(m)
			add("lb:"+lb, v)
			if tg != "" && fig.group {
				add("tg:"+tg, v)
			}
		}
	}
	for _, act := range s.activity {
		for key, n := range act() {
			v := raw{act: float64(n), hasAct: true}
			add("t:"+key, v)
			tgARN, _, _ := strings.Cut(key, " ")
			add("tg:"+state.Dimension(tgARN), v)
		}
	}
	return series, nil
}

// add adds another reading's figures.
func (r *raw) add(v raw) {
	r.req += v.req
	r.err += v.err
	r.latSum += v.latSum
	r.latCount += v.latCount
	r.act += v.act
	r.hasReq = r.hasReq || v.hasReq
	r.hasLat = r.hasLat || v.hasLat
	r.hasAct = r.hasAct || v.hasAct
}

// figure is how one metric family feeds the series.
type figure struct {
	// read is one metric's contribution.
	read func(*dto.Metric) raw
	// group: it also feeds the target group's series (else the load
	// balancer's only).
	group bool
}

// figures are the metric families the console shows (metrics.go of
// package alb and nlb name them after CloudWatch's).
var figures = map[string]figure{
	// A target group's active figure is what its targets have in flight
	// (Activity); with a request count it is known, 0 when nothing is.
	"elbow_alb_RequestCount": {func(m *dto.Metric) raw {
		return raw{req: m.GetCounter().GetValue(), hasReq: true, hasAct: true}
	}, true},
	"elbow_nlb_NewFlowCount": {func(m *dto.Metric) raw {
		return raw{req: m.GetCounter().GetValue(), hasReq: true, hasAct: true}
	}, true},
	"elbow_alb_HTTPCode_ELB_5XX_Count":    {errorCount, true},
	"elbow_alb_HTTPCode_Target_5XX_Count": {errorCount, true},
	"elbow_nlb_TCP_ELB_Reset_Count":       {errorCount, true},
	"elbow_nlb_TCP_Target_Reset_Count":    {errorCount, true},
	"elbow_alb_TargetResponseTime": {func(m *dto.Metric) raw {
		h := m.GetHistogram()
		return raw{latSum: h.GetSampleSum(), latCount: float64(h.GetSampleCount()), hasLat: true}
	}, true},
	"elbow_alb_ActiveConnectionCount": {activeGauge, false},
	"elbow_nlb_ActiveFlowCount":       {activeGauge, false},
}

func errorCount(m *dto.Metric) raw  { return raw{err: m.GetCounter().GetValue()} }
func activeGauge(m *dto.Metric) raw { return raw{act: m.GetGauge().GetValue(), hasAct: true} }

// label returns a metric's label value.
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// num rounds a figure to three decimals for the wire.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r := math.Round(v*1000) / 1000
	return &r
}
