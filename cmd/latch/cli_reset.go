package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/latch/latch/internal/account"
)

// cmdUserResetLink runs "latch user reset-link EMAIL [--base-url URL]": it
// makes a one-time password reset link for the account and prints it on
// standard output, alone on its line (link=$(latch user reset-link …)
// works); what it is for and until when goes to standard error. The link
// is BASE/reset/TOKEN, with BASE from --base-url or else http://LATCH_ADDR.
// It works once, for 30 minutes (store.ResetLinkLifetime), and replaces any
// earlier unused link of the account; only the token's hash is stored.
// Made and recorded as PasswordResetLink (without the link) by
// account.Service.IssueResetLink, as the web admin's button does. Errors: usageError for
// bad arguments (exit 2); an unknown or disabled account, or a database
// error, exits 1.
func cmdUserResetLink(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user reset-link", "user reset-link EMAIL [--base-url URL]\n\n"+
		"Prints a link that lets the account's owner choose a new password, once, within 30 minutes.\n"+
		"Give it to them by a channel you trust: whoever has the link can take over the account.", stderr)
	base := fs.String("base-url", "", "the address people use to reach Latch, e.g. https://latch.example.com (default: http://LATCH_ADDR)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New(`want "user reset-link EMAIL [--base-url URL]"`)}
	}
	if err := checkEmailArg(pos[0]); err != nil {
		return err
	}
	cfg, db, err := openMigratedDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	origin, err := resetBaseURL(*base, cfg.Addr)
	if err != nil {
		return usageError{err}
	}
	env := &adminEnv{db: db, accounts: cliAccounts(db, nil, nil)}
	u, err := env.userByEmail(ctx, pos[0])
	if err != nil {
		return err
	}
	who := describeUser(u)
	link, err := env.accounts.IssueResetLink(ctx, account.CLI(), u)
	if errors.Is(err, account.ErrDisabled) {
		return fmt.Errorf("%s is disabled, and a reset link does not work for a disabled account; run \"latch user enable %s\" first", who, u.Email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s/reset/%s\n", origin, link.Token)
	fmt.Fprintf(stderr, "one-time password reset link for %s: works once, until %s (30 minutes); it replaces any earlier unused link\n",
		who, link.Expires.UTC().Format(time.DateTime+" MST"))
	return notAudited(link.Outcome)
}

// resetBaseURL returns the scheme and host reset links start with: base
// (an http or https URL, with no query or fragment; a trailing slash is
// dropped) when given, else http://ADDR for the listen address addr (a
// wildcard host such as 0.0.0.0 becomes localhost).
func resetBaseURL(base, addr string) (string, error) {
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return "", fmt.Errorf("--base-url %q: want an address such as https://latch.example.com", base)
		}
		return strings.TrimRight(u.String(), "/"), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("LATCH_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
