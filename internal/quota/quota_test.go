package quota

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Quota
		wantErr bool
	}{
		{in: "10/1h", want: Quota{10, time.Hour}},
		{in: " 5 / 15m ", want: Quota{5, 15 * time.Minute}},
		{in: "1/1s", want: Quota{1, time.Second}},
		{in: "off", want: Quota{}},
		{in: "Off", want: Quota{}},
		{in: "10", wantErr: true},
		{in: "", wantErr: true},
		{in: "0/1h", wantErr: true},
		{in: "-1/1h", wantErr: true},
		{in: "ten/1h", wantErr: true},
		{in: "10/hour", wantErr: true},
		{in: "10/0s", wantErr: true},
		{in: "10/-1h", wantErr: true},
		{in: "10/9000h", wantErr: true},
		{in: "1000000/1ms", want: Quota{1000000, time.Millisecond}},
		{in: "1000001/1h", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err == nil {
				again, err := Parse(got.String())
				if err != nil || again != got {
					t.Errorf("Parse(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
				}
			}
		})
	}
	if got := (Quota{10, time.Hour}).Interval(); got != 6*time.Minute {
		t.Errorf("Interval of 10/1h = %v, want 6m", got)
	}
}
