package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// maxAPIBodyBytes caps an API request body (16 KiB): the largest is two
// passwords of user.MaxPasswordBytes plus field names.
const maxAPIBodyBytes = 16 << 10

// maxQuotedFieldBytes caps how much of an unknown field's name a problem
// detail (and so the log line) quotes: the name is the client's text, up
// to the whole body long.
const maxQuotedFieldBytes = 64

// decodeJSON reads r's body, which must be exactly one JSON object of
// dst's fields (dst points to a struct), into dst. Errors, all answered
// 4xx from the table: errAPIContentType when Content-Type is not
// application/json (415); errFormTooLarge past maxAPIBodyBytes (413);
// errAPIBody, with words saying what is wrong, for a body that is not
// JSON, is not valid UTF-8, has a field of the wrong type, an unknown
// field (json.Decoder.DisallowUnknownFields; its name quoted up to
// maxQuotedFieldBytes), anything after the object, or a string field
// holding a NUL character (400). The last two rules are the form chain's
// cleanText: an API request is refused the text a form is refused, so
// that a password set through the API can be typed into the login form.
// The decoder's own message is not shown: it may quote the body, which
// holds passwords.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errAPIContentType
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBodyBytes))
	if err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(body) { // encoding/json would turn the bad bytes into U+FFFD silently
		return apiBodyError("The request body is not valid UTF-8 text.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if dec.More() {
			err = errTrailing
		} else if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errTrailing
		}
	}
	if err != nil {
		return jsonError(err)
	}
	if field := uncleanField(dst); field != "" {
		return apiBodyError(fmt.Sprintf("The field %q holds a NUL character (\\u0000); text must be valid UTF-8 without NUL.", field))
	}
	return nil
}

var errTrailing = errors.New("data after the JSON object")

// uncleanField returns the JSON name of the first string field of the
// struct dst points to whose value fails cleanText; "" when none does.
func uncleanField(dst any) string {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	v = v.Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.String || cleanText(f.String()) {
			continue
		}
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = v.Type().Field(i).Name
		}
		return name
	}
	return ""
}

// apiBodyError is errAPIBody (400) with msg as the detail and in the log.
func apiBodyError(msg string) error {
	return withMessage(fmt.Errorf("%w: %s", errAPIBody, msg), msg)
}

// jsonError turns a decoding error into the API's error (decodeJSON).
func jsonError(err error) error {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return withMessage(fmt.Errorf("%w: %w", errFormTooLarge, err), fmt.Sprintf("The request body is larger than %d KiB.", maxAPIBodyBytes>>10))
	case errors.Is(err, io.EOF):
		return apiBodyError("The request body is empty; it must be a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return apiBodyError("The request body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return apiBodyError(fmt.Sprintf("The field %q has the wrong type.", truncateName(typeErr.Field)))
		}
		return apiBodyError("The request body must be a JSON object.")
	case errors.Is(err, errTrailing):
		return apiBodyError("The request body has data after the JSON object.")
	}
	if unknown, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := unquoteJSONName(unknown); uerr == nil {
			return apiBodyError(fmt.Sprintf("The field %q is not one this request accepts.", truncateName(name)))
		}
	}
	return apiBodyError("The request body could not be read as the JSON object this request expects.")
}

// unquoteJSONName reads the Go-quoted field name of encoding/json's
// unknown-field error.
func unquoteJSONName(quoted string) (string, error) {
	var name string
	_, err := fmt.Sscanf(quoted, "%q", &name)
	return name, err
}

// truncateName cuts a field name the client sent to maxQuotedFieldBytes,
// at a character boundary, marking a cut with "…".
func truncateName(name string) string {
	if len(name) <= maxQuotedFieldBytes {
		return name
	}
	cut := maxQuotedFieldBytes
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "…"
}
