package closing

import (
	"strings"
	"testing"
	"time"
)

// FuzzCloseAt checks parseCloseAt against time.Parse: whatever it
// accepts, time.Parse reads (with 't' and 'z' upper-cased) as the same
// instant; whatever time.Parse reads that has a '.' fraction, an offset
// within ±23:59 and seconds below 60, it accepts.
func FuzzCloseAt(f *testing.F) {
	for _, s := range []string{"2026-11-29T13:00:00Z", "2026-11-29t13:00:00.5z", "2026-11-29T12:15:00+24:00",
		"2026-11-29T12:15:00,5Z", "2026-11-30T12:30:00+23:59", "2026-02-29T12:00:00Z", "2024-02-29T12:00:00-00:00"} {
		f.Add(s)
	}
	upper := strings.NewReplacer("t", "T", "z", "Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseCloseAt(s)
		want, werr := time.Parse(time.RFC3339Nano, upper.Replace(s))
		if err == nil {
			if werr != nil || !got.Equal(want) {
				t.Fatalf("parseCloseAt(%q) = %v; time.Parse = %v, %v", s, got, want, werr)
			}
			return
		}
		if ErrorCode(err) != CodeInvalidRequest || !strings.Contains(err.Error(), "close_at must be") {
			t.Fatalf("error %q is not an invalid_request naming close_at", err)
		}
		if werr != nil || strings.Contains(s, ",") {
			return
		}
		if _, off := want.Zone(); off > -24*3600 && off < 24*3600 && strings.Count(s, ":") == 4 {
			t.Fatalf("parseCloseAt(%q) refused what time.Parse reads as %v: %v", s, want, err)
		}
	})
}
