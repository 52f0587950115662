package throttle

import "github.com/latch/latch/internal/quota"

// Quota and Quotas are the limits a Limiter enforces; the value types live
// in internal/quota (so that config can hold them without importing this
// package), and these names let the limiter's API read in its own terms.
type (
	Quota  = quota.Quota
	Quotas = quota.Quotas
)

// ParseQuota reads "COUNT/PERIOD" or "off" (quota.Parse).
func ParseQuota(s string) (Quota, error) { return quota.Parse(s) }

// DefaultQuotas returns the default quotas (quota.Defaults says why).
func DefaultQuotas() Quotas { return quota.Defaults() }
