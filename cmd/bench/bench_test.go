package main

import (
	"testing"
	"time"
)

func TestSandboxParseReadsReportInitAndCloseLines(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := sandbox{coldSent: at(0), coldDone: at(12)}
	err := s.parse([]line{
		{at(1), "START RequestId: a Version: $LATEST"},
		{at(9), `{"timestamp":"x","level":"INFO","message":"init","key_loaded":true,"key_ms":4.5,"payjs_warm":true,"warm_ms":1.25,"init_ms":5}`},
		{at(10), `{"_aws":{"Timestamp":1},"ColdStarts":1}`},
		{at(11), `{"level":"INFO","message":"close","latency_ms":0.75}`},
		{at(12), "REPORT RequestId: a\tInit Duration: 0.02 ms\tDuration: 11.50 ms\tBilled Duration: 12 ms\t"},
		{at(13), `{"message":"close","latency_ms":0.25}`},
		{at(14), "REPORT RequestId: b\tDuration: 0.60 ms\tBilled Duration: 1 ms\t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.selfInit != 5 || s.keyMS != 4.5 || s.warmMS != 1.25 || s.rieFirst != 11.5 || s.firstClose != 0.75 {
		t.Errorf("parsed %+v", s)
	}
	if len(s.warmCloses) != 1 || s.warmCloses[0] != 0.25 {
		t.Errorf("warm closes %v", s.warmCloses)
	}
	if s.initSeen != 9*time.Millisecond || s.afterInit != 3*time.Millisecond {
		t.Errorf("init seen %v, after init %v", s.initSeen, s.afterInit)
	}
}

func TestSandboxParseNeedsTheLinesItReports(t *testing.T) {
	var s sandbox
	if err := s.parse([]line{{time.Now(), `{"message":"close","latency_ms":1}`}}); err == nil {
		t.Error("no REPORT and no init line: want an error")
	}
}

func TestMedianAndPercentile(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median = %v", got)
	}
	if got := median([]int{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of even count = %v", got)
	}
	xs := make([]time.Duration, 100)
	for i := range xs {
		xs[i] = time.Duration(100-i) * time.Millisecond
	}
	if p50, p90 := percentile(xs, 50), percentile(xs, 90); p50 != 50*time.Millisecond || p90 != 90*time.Millisecond {
		t.Errorf("p50 %v, p90 %v", p50, p90)
	}
	if got := percentile([]float64{7}, 90); got != 7 {
		t.Errorf("p90 of one = %v", got)
	}
}

func TestLinesSplitsWritesIntoLines(t *testing.T) {
	l := &lines{copy: discard{}}
	_, _ = l.Write([]byte("a\nb"))
	_, _ = l.Write([]byte("c\r\nd\n"))
	got := l.since(0)
	if len(got) != 3 || got[0].text != "a" || got[1].text != "bc" || got[2].text != "d" {
		t.Errorf("lines %+v", got)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
