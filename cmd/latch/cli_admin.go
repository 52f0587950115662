package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/latch/latch/internal/account"
	"github.com/latch/latch/internal/password"
	"github.com/latch/latch/internal/session"
	"github.com/latch/latch/internal/store"
	"github.com/latch/latch/internal/user"
)

// Operator commands: create accounts, list and revoke sessions, disable,
// enable and change the role of accounts. Each operation is carried out by
// internal/account, the same code the web admin pages call, so it follows
// the same rules and records the same audit events with the same details;
// the actor is account.CLI(): Via audit.ViaCLI and no account (ActorID 0),
// because the CLI does not know which person runs it.

const sessionsUsage = `Usage:
  latch sessions list [--user EMAIL] [--json]
                              list active sessions, newest activity first
  latch sessions revoke [--] HANDLE
                              end one session (handles are in the list; put --
                              before a handle that starts with -)
  latch sessions revoke --user EMAIL
                              end every session of one account
`

const userUsage = `Usage:
  latch user create --email E [--name N] [--admin] --password-stdin
                              create a user (password read from standard input)
  latch user disable EMAIL    disable an account and end its sessions
  latch user enable EMAIL     enable a disabled account
  latch user set-role EMAIL admin|user
                              change an account's role and end its sessions
  latch user reset-link EMAIL [--base-url URL]
                              print a one-time link that sets a new password
                              (works once, for 30 minutes)
`

// cmdSessions runs "latch sessions list|revoke ...". Errors: usageError
// for bad arguments (exit 2); any other error (unknown user or handle,
// database or session store trouble) exits 1.
func cmdSessions(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(`want "sessions list" or "sessions revoke"; see "latch sessions --help"`)}
	}
	switch args[0] {
	case "list":
		return cmdSessionsList(ctx, args[1:], getenv, stdout, stderr)
	case "revoke":
		return cmdSessionsRevoke(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, sessionsUsage)
		return nil
	}
	return usageError{fmt.Errorf("unknown subcommand %q; want list or revoke", args[0])}
}

// cmdUserAdmin runs "latch user disable|enable|set-role ..." (sub is the
// subcommand, args what follows it). Errors as for cmdSessions.
func cmdUserAdmin(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch sub {
	case "disable":
		return cmdUserSetDisabled(ctx, args, true, getenv, stdout, stderr)
	case "enable":
		return cmdUserSetDisabled(ctx, args, false, getenv, stdout, stderr)
	case "set-role":
		return cmdUserSetRole(ctx, args, getenv, stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q", sub)}
}

// sessionJSON is one element of "latch sessions list --json". Times are
// RFC 3339 in UTC.
type sessionJSON struct {
	Handle           string    `json:"handle"`
	UserID           int64     `json:"user_id"`
	Email            string    `json:"email"` // "" when the account no longer exists
	Created          time.Time `json:"created"`
	LastSeen         time.Time `json:"last_seen"`
	Expiry           time.Time `json:"expiry"`
	AbsoluteDeadline time.Time `json:"absolute_deadline"`
	IP               string    `json:"ip"`
	Remember         bool      `json:"remember"`
	UserAgent        string    `json:"user_agent"`
	Kind             string    `json:"kind"`                  // "browser" or "app" (an API session: session.KindApp)
	DeviceName       string    `json:"device_name,omitempty"` // an app session's device name
}

// cmdSessionsList prints every active session (or one account's), newest
// activity first, as a table or, with --json, as a JSON array ([] when
// there are none). Without --user it pages through Registry.Sessions 500 at
// a time; sessions active while it runs may move between pages, so a
// handle seen twice is printed once.
func cmdSessionsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sessions list", "sessions list [--user EMAIL] [--json]", stderr)
	email := fs.String("user", "", "only the sessions of the account with this email address")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email != "" {
		if err := checkEmailArg(*email); err != nil {
			return err
		}
	}
	env, err := openAdminEnv(ctx, getenv)
	if err != nil {
		return err
	}
	defer env.Close()

	var recs []session.Record
	if *email != "" {
		u, err := env.userByEmail(ctx, *email)
		if err != nil {
			return err
		}
		if recs, err = env.reg.UserSessions(ctx, u.ID); err != nil {
			return err
		}
	} else if recs, err = allSessions(ctx, env.reg); err != nil {
		return err
	}

	emails := make(map[int64]string)
	for _, rec := range recs {
		if _, ok := emails[rec.UserID]; ok {
			continue
		}
		u, err := env.db.UserByID(ctx, rec.UserID)
		switch {
		case errors.Is(err, user.ErrNotFound):
			emails[rec.UserID] = ""
		case err != nil:
			return err
		default:
			emails[rec.UserID] = u.Email
		}
	}
	if *asJSON {
		return writeSessionsJSON(stdout, recs, emails)
	}
	return writeSessionsTable(stdout, recs, emails)
}

// allSessions pages through every active session, 500 at a time, each
// page from the cursor of the last one (session.Query.After: a page costs
// the same at any depth), dropping handles already seen.
func allSessions(ctx context.Context, reg session.Registry) ([]session.Record, error) {
	const pageSize = 500
	var recs []session.Record
	seen := make(map[string]bool)
	q := session.Query{Limit: pageSize}
	for {
		page, err := reg.Sessions(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Records {
			if !seen[rec.Handle] {
				seen[rec.Handle] = true
				recs = append(recs, rec)
			}
		}
		if len(page.Records) < pageSize {
			return recs, nil
		}
		after := session.CursorOf(page.Records[len(page.Records)-1])
		q.After = &after
	}
}

func writeSessionsJSON(w io.Writer, recs []session.Record, emails map[int64]string) error {
	out := make([]sessionJSON, 0, len(recs))
	for _, r := range recs {
		out = append(out, sessionJSON{
			Handle: r.Handle, UserID: r.UserID, Email: emails[r.UserID],
			Created: r.Created.UTC(), LastSeen: r.LastSeen.UTC(),
			Expiry: r.Expiry.UTC(), AbsoluteDeadline: r.AbsoluteDeadline.UTC(),
			IP: r.IP, Remember: r.Remember, UserAgent: r.UserAgent,
			Kind: sessionKind(r), DeviceName: r.DeviceName,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// tableUserAgentRunes is how much of a User-Agent the table shows; --json
// shows all of it.
const tableUserAgentRunes = 60

func writeSessionsTable(w io.Writer, recs []session.Record, emails map[int64]string) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no active sessions")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tUSER\tCREATED (UTC)\tLAST SEEN (UTC)\tIP\tREMEMBER\tUSER AGENT")
	for _, r := range recs {
		who := emails[r.UserID]
		if who == "" {
			who = "(deleted user " + strconv.FormatInt(r.UserID, 10) + ")"
		}
		remember := "no"
		if r.Remember {
			remember = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			terminalSafe(r.Handle, -1), terminalSafe(who, -1),
			r.Created.UTC().Format(time.DateTime), r.LastSeen.UTC().Format(time.DateTime),
			terminalSafe(r.IP, -1), remember, terminalSafe(agentColumn(r), tableUserAgentRunes))
	}
	return tw.Flush()
}

// sessionKind is "app" for an app session (the JSON API's), else "browser".
func sessionKind(r session.Record) string {
	if r.Kind == session.KindApp {
		return "app"
	}
	return "browser"
}

// agentColumn is the table's USER AGENT cell: the User-Agent, after
// "App: <device name>, " for an app session (as the pages name it).
func agentColumn(r session.Record) string {
	if r.Kind == session.KindApp {
		return "App: " + r.DeviceName + ", " + r.UserAgent
	}
	return r.UserAgent
}

// terminalSafe returns s for printing in a terminal table: control
// characters (escape sequences, tabs, newlines; a User-Agent is whatever a
// client sent) become spaces, and when maxRunes >= 0 a longer s is cut to
// maxRunes characters ending in "…".
func terminalSafe(s string, maxRunes int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	if maxRunes >= 0 {
		if r := []rune(s); len(r) > maxRunes {
			s = string(r[:max(maxRunes-1, 0)]) + "…"
		}
	}
	return s
}

// cmdSessionsRevoke ends one session by handle (audit SessionRevoked) or
// every session of one account (--user; audit SessionsRevoked with the
// count). An unknown handle is an error (exit 1).
func cmdSessionsRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sessions revoke", "sessions revoke [--] HANDLE\n       latch sessions revoke --user EMAIL", stderr)
	email := fs.String("user", "", "end every session of the account with this email address")
	pos, err := parseArgs(fs, args)
	if err != nil {
		for _, a := range args {
			if strings.HasPrefix(a, "-") && session.ValidHandle(a) && !errors.Is(err, flag.ErrHelp) {
				return usageError{fmt.Errorf("%w (put -- before a handle that starts with -: latch sessions revoke -- %s)", err, a)}
			}
		}
		return err
	}
	switch {
	case *email == "" && len(pos) == 0:
		return usageError{errors.New("give a session handle or --user EMAIL")}
	case *email != "" && len(pos) > 0:
		return usageError{errors.New("give a session handle or --user EMAIL, not both")}
	case len(pos) > 1:
		return usageError{fmt.Errorf("unexpected argument %q: give one session handle", pos[1])}
	}
	if *email != "" {
		if err := checkEmailArg(*email); err != nil {
			return err
		}
	} else if !session.ValidHandle(pos[0]) {
		return usageError{fmt.Errorf("%q is not a session handle (22 letters, digits, - or _; see \"latch sessions list\")", pos[0])}
	}
	env, err := openAdminEnv(ctx, getenv)
	if err != nil {
		return err
	}
	defer env.Close()

	if *email != "" {
		u, err := env.userByEmail(ctx, *email)
		if err != nil {
			return err
		}
		ended, _, o, err := env.accounts.RevokeAll(ctx, account.CLI(), u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ended %s of user %d <%s>\n", account.CountSessions(len(ended)), u.ID, u.Email)
		return notAudited(o)
	}

	handle := pos[0]
	rec, o, err := env.accounts.RevokeSession(ctx, account.CLI(), handle, 0)
	if errors.Is(err, account.ErrNoSession) {
		return fmt.Errorf("no active session with handle %s", handle)
	}
	if err != nil {
		return err
	}
	who := "user " + strconv.FormatInt(rec.UserID, 10)
	if u, err := env.db.UserByID(ctx, rec.UserID); err == nil {
		who += " <" + u.Email + ">"
	}
	fmt.Fprintf(stdout, "ended session %s of %s\n", handle, who)
	return notAudited(o)
}

// cmdUserSetDisabled disables (disabled true) or enables an account.
// Disabling ends every session of the account and is recorded as
// AccountDisabled with the number of sessions ended; enabling is recorded
// as AccountEnabled. An account already in the wanted state is left as it
// is and nothing is recorded, except that disabling again still ends any
// session it has (recorded as SessionsRevoked when there was one).
func cmdUserSetDisabled(ctx context.Context, args []string, disabled bool, getenv func(string) string, stdout, stderr io.Writer) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disabled]
	fs := newFlagSet("user "+verb, "user "+verb+" EMAIL", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf(`want "user %s EMAIL"`, verb)}
	}
	env, u, err := openSubject(ctx, getenv, pos[0])
	if err != nil {
		return err
	}
	defer env.Close()
	who := describeUser(u)

	if !disabled {
		res, err := env.accounts.Enable(ctx, account.CLI(), u)
		if err != nil {
			return err
		}
		if res.Already {
			fmt.Fprintf(stdout, "%s is already enabled\n", who)
			return nil
		}
		warnStateCopy(stderr, res.Outcome)
		fmt.Fprintf(stdout, "enabled %s\n", who)
		return notAudited(res.Outcome)
	}

	res, err := env.accounts.Disable(ctx, account.CLI(), u)
	switch {
	case res.Already && res.RevokeErr != nil:
		return fmt.Errorf("%s is already disabled, but its sessions could not be ended: %w", who, res.RevokeErr)
	case res.Already:
		fmt.Fprintf(stdout, "%s is already disabled; %s ended\n", who, account.CountSessions(len(res.Ended)))
		return notAudited(res.Outcome)
	case res.RevokeErr != nil:
		// As on the web: the account is locked out once the flag is stored
		// (logins are refused and a disabled account's session ends at its
		// next request), so the event is recorded even if ending sessions fails.
		warnStateCopy(stderr, res.Outcome)
		return errors.Join(fmt.Errorf("disabled %s, but its sessions could not be ended (run this command again): %w", who, res.RevokeErr),
			notAudited(res.Outcome))
	case err != nil:
		return err
	}
	warnStateCopy(stderr, res.Outcome)
	fmt.Fprintf(stdout, "disabled %s; %s ended\n", who, account.CountSessions(len(res.Ended)))
	return notAudited(res.Outcome)
}

// cmdUserSetRole gives an account the role "admin" or "user". A privilege
// change ends every session of the account, so the new role applies from
// the next login; it is recorded as RoleChanged with Detail
// "role OLD → NEW". Setting the role the account already has does nothing.
func cmdUserSetRole(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user set-role", "user set-role EMAIL admin|user", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{errors.New(`want "user set-role EMAIL admin|user"`)}
	}
	role := user.Role(pos[1])
	if !role.Valid() {
		return usageError{fmt.Errorf("unknown role %q; want admin or user", pos[1])}
	}
	env, u, err := openSubject(ctx, getenv, pos[0])
	if err != nil {
		return err
	}
	defer env.Close()
	who := describeUser(u)
	old := u.Role
	res, err := env.accounts.SetRole(ctx, account.CLI(), u, role)
	switch {
	case res.Already:
		fmt.Fprintf(stdout, "%s already has role %s\n", who, role)
		return nil
	case res.RevokeErr != nil:
		warnStateCopy(stderr, res.Outcome)
		return errors.Join(fmt.Errorf("changed the role of %s to %s, but its sessions could not be ended (run \"latch sessions revoke --user %s\"): %w",
			who, role, u.Email, res.RevokeErr), notAudited(res.Outcome))
	case err != nil:
		return err
	}
	warnStateCopy(stderr, res.Outcome)
	fmt.Fprintf(stdout, "%s: role %s → %s; %s ended\n", who, old, role, account.CountSessions(len(res.Ended)))
	return notAudited(res.Outcome)
}

// adminEnv is what an operator command works on: the database, the
// configured session store's registry, and the account operations over
// both.
type adminEnv struct {
	db       *store.DB
	reg      session.Registry
	pool     redisPool // nil with the embedded session store
	accounts *account.Service
}

// openAdminEnv opens the database and session store that the LATCH_*
// variables name (see openSessionStore). It does not migrate: run
// "latch migrate" first. Close releases both.
func openAdminEnv(ctx context.Context, getenv func(string) string) (*adminEnv, error) {
	cfg, db, err := openMigratedDB(ctx, getenv)
	if err != nil {
		return nil, err
	}
	st, pool, err := openSessionStore(cfg, db, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &adminEnv{db: db, reg: st, pool: pool, accounts: cliAccounts(db, st, nil)}, nil
}

// Close releases the Redis pool (if any) and the database.
func (e *adminEnv) Close() {
	if e.pool != nil {
		e.pool.Close()
	}
	e.db.Close()
}

// openSubject is what a command on one account (EMAIL) does first: it
// checks the argument (checkEmailArg), opens the database and session
// store (openAdminEnv; the caller closes env) and loads the account
// (userByEmail). On error nothing is left open.
func openSubject(ctx context.Context, getenv func(string) string, email string) (env *adminEnv, u *user.User, err error) {
	if err := checkEmailArg(email); err != nil {
		return nil, nil, err
	}
	if env, err = openAdminEnv(ctx, getenv); err != nil {
		return nil, nil, err
	}
	if u, err = env.userByEmail(ctx, email); err != nil {
		env.Close()
		return nil, nil, err
	}
	return env, u, nil
}

// describeUser is how a command's output names account u: "user 7 <ada@example.com>".
func describeUser(u *user.User) string { return fmt.Sprintf("user %d <%s>", u.ID, u.Email) }

// userByEmail returns the account with this address; for none the error
// says "no user with email EMAIL" (exit status 1).
func (e *adminEnv) userByEmail(ctx context.Context, email string) (*user.User, error) {
	u, err := e.db.UserByEmail(ctx, email)
	if errors.Is(err, user.ErrNotFound) {
		return nil, fmt.Errorf("no user with email %s", strings.TrimSpace(email))
	}
	return u, err
}

// notAudited is the command's error when the operation was carried out
// but its audit event could not be stored (o.Audit); nil otherwise.
func notAudited(o account.Outcome) error {
	if o.Audit != nil {
		return fmt.Errorf("the change was made, but recording it in the audit log failed (has \"latch migrate\" been run?): %w", o.Audit)
	}
	return nil
}

// warnStateCopy prints, as a warning on stderr, that the change is stored
// but the account's state copy beside the sessions was not written
// (o.StateCopy, user.ErrStateCopyNotWritten): the command goes on.
func warnStateCopy(stderr io.Writer, o account.Outcome) {
	if o.StateCopy != nil {
		fmt.Fprintf(stderr, "warning: %v (the account is read from the database until the copy expires, within a minute)\n", o.StateCopy)
	}
}

// checkEmailArg rejects an EMAIL argument no account can have (usage
// error, exit 2), so later messages never echo control characters. An
// address today's rules refuse for new accounts (a look-alike) is allowed
// when an account made before them could have it (user.EmailLookupKeys),
// so such accounts can still be managed.
func checkEmailArg(email string) error {
	if _, _, err := user.NormalizeEmail(email); err != nil && !legacyAddress(email) {
		return usageError{fmt.Errorf("%q is not an email address: %v", email, err)}
	}
	return nil
}

// legacyAddress reports whether email is an address (RFC 5322) that an
// account made before the look-alike rules of user.NormalizeEmail could
// have: no control characters, and keys to look it up by.
func legacyAddress(email string) bool {
	a, err := mail.ParseAddress(strings.TrimSpace(email))
	return err == nil && a.Name == "" && user.EmailLookupKeys(email) != nil
}

// parseArgs parses fs's flags anywhere among args ("revoke HANDLE --user
// E" as well as "revoke --user E HANDLE") and returns the other arguments
// in order; everything after "--" is positional. Errors: flag.ErrHelp for
// -h/--help, else usageError.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// cmdUserCreate runs "latch user create --email E [--name N] [--admin]
// --password-stdin" (args: what follows "create"): the password is the
// first line of standard input; the name defaults to the part of the
// address before "@". The account is made by account.Service.CreateUser,
// as a registration is (the same field rules and strength check, the
// configured argon2id cost), and recorded as UserCreated with "role R".
// Errors: usageError (exit 2) for bad arguments, a field the rules refuse,
// a weak password or an address already registered; any other error
// (database) exits 1.
func cmdUserCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("user create", "user create --email E [--name N] [--admin] --password-stdin", stderr)
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "display name (default: the part of the email before @)")
	admin := fs.Bool("admin", false, "give the user the admin role")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" || !*fromStdin {
		return usageError{errors.New("--email and --password-stdin are required")}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, user.MaxPasswordBytes+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if *name == "" {
		*name, _, _ = strings.Cut(strings.TrimSpace(*email), "@")
	}
	// The cheap field rules before opening anything (CreateUser applies
	// them again, with the strength check after them).
	if errs := user.ValidateRegistration(*email, *name, pw); len(errs) > 0 {
		return usageError{account.FieldErrors(errs)}
	}
	cfg, db, err := openMigratedDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	params, err := passwordParams(cfg.Argon2)
	if err != nil {
		return err
	}
	role := user.RoleUser
	if *admin {
		role = user.RoleAdmin
	}
	accounts := cliAccounts(db, nil, password.NewHasher(params, 0, 0))
	u, o, err := accounts.CreateUser(ctx, account.CLI(), account.NewUser{Email: *email, Name: *name, Password: pw, Role: role})
	var fields account.FieldErrors
	switch {
	case errors.As(err, &fields):
		return usageError{fields}
	case errors.Is(err, user.ErrEmailTaken):
		return usageError{err}
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "created user %d <%s> role %s\n", u.ID, u.Email, u.Role)
	return notAudited(o)
}
