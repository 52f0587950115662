package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// maxAPIBodyBytes caps an API request body (16 KiB): the largest is two
// passwords of user.MaxPasswordBytes plus field names.
const maxAPIBodyBytes = 16 << 10

// decodeJSON reads r's body, which must be exactly one JSON object of
// dst's fields, into dst. Errors, all answered 4xx from the table:
// errAPIContentType when Content-Type is not application/json (415);
// errFormTooLarge past maxAPIBodyBytes (413); errAPIBody, with words
// saying what is wrong, for a body that is not JSON, has a field of the
// wrong type, an unknown field (json.Decoder.DisallowUnknownFields), or
// anything after the object (400). The decoder's own message is not
// shown: it may quote the body, which holds passwords.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errAPIContentType
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBodyBytes))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if dec.More() {
			err = errTrailing
		} else if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errTrailing
		}
	}
	return jsonError(err)
}

var errTrailing = errors.New("data after the JSON object")

// jsonError turns a decoding error into the API's error (decodeJSON).
func jsonError(err error) error {
	var (
		tooBig    *http.MaxBytesError
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		withWords = func(msg string) error { return withMessage(fmt.Errorf("%w: %s", errAPIBody, msg), msg) }
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return withMessage(fmt.Errorf("%w: %w", errFormTooLarge, err), fmt.Sprintf("The request body is larger than %d KiB.", maxAPIBodyBytes>>10))
	case errors.Is(err, io.EOF):
		return withWords("The request body is empty; it must be a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return withWords("The request body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return withWords(fmt.Sprintf("The field %q has the wrong type.", typeErr.Field))
		}
		return withWords("The request body must be a JSON object.")
	case errors.Is(err, errTrailing):
		return withWords("The request body has data after the JSON object.")
	}
	var unknown string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &unknown); scanErr == nil {
		return withWords(fmt.Sprintf("The field %q is not one this request accepts.", unknown))
	}
	return withWords("The request body could not be read as the JSON object this request expects.")
}
