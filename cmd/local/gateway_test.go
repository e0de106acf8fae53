package main

import "testing"

func TestGatewayRouteParts(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:54321": "127.0.0.1",
		"[::1]:54321":     "::1",
		"pipe":            "pipe",
	} {
		if got := sourceIP(in); got != want {
			t.Errorf("sourceIP(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"/orders/2026112500000000000000000001/close": "2026112500000000000000000001",
		"/orders/not-an-order-id/close":              "not-an-order-id",
		"/orders//close":                             "",
		"/orders/a/b/close":                          "",
		"/orders/a":                                  "",
		"/close":                                     "",
	} {
		got, ok := ordersPathID(in)
		if got != want || ok != (want != "") {
			t.Errorf("ordersPathID(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
