package client

import "testing"

func TestSplitServer(t *testing.T) {
	tests := []struct {
		in   string
		want endpoint
		bad  bool
	}{
		{"fs1", endpoint{"fs1", 0}, false},
		{"fs1:445", endpoint{"fs1", 445}, false},
		{"10.0.0.5", endpoint{"10.0.0.5", 0}, false},
		{"10.0.0.5:49670", endpoint{"10.0.0.5", 49670}, false},
		{"::1", endpoint{"::1", 0}, false},
		{"fe80::1%eth0", endpoint{"fe80::1%eth0", 0}, false},
		{"[::1]", endpoint{"::1", 0}, false},
		{"[::1]:135", endpoint{"::1", 135}, false},
		{"", endpoint{}, true},
		{"fs1:0", endpoint{}, true},
		{"fs1:65536", endpoint{}, true},
		{"fs1:http", endpoint{}, true},
		{":445", endpoint{}, true},
		{"a:b:c", endpoint{}, true},
	}
	for _, tc := range tests {
		got, err := splitServer(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("splitServer(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
