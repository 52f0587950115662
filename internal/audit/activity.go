package audit

import "time"

// ThrottledDetailPrefix begins the Detail of every LoginFailed event that
// records a throttle refusal rather than a checked password (the server's
// refuseLogin writes "throttled (<scope> quota; retry in <n> s)"). Such an
// event is a sample: the throttle audits the first refused attempt per
// account and client network in each minute (internal/throttle), so one
// event stands for one or more refused attempts. Migration 00014's partial
// index holds exactly these events; its predicate spells this prefix out.
const ThrottledDetailPrefix = "throttled ("

// LoginHour counts the sign-in events of one hour-long interval of the
// audit log (store.DB.LoginActivity): the admin overview's counts and
// chart.
type LoginHour struct {
	Start     time.Time // UTC; the interval is [Start, Start+1h)
	Succeeded int       // LoginSucceeded events
	Failed    int       // LoginFailed events after a password was checked (or the account was unknown or disabled)
	Throttled int       // LoginFailed events recording a sampled throttle refusal (ThrottledDetailPrefix)
}
