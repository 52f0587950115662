package web

// firstError returns the first of fields, in the order given (the form's
// order, top to bottom), that has a message in errs (a page's
// FieldErrors: field name to message), or "" when none has. The templates
// put autofocus on that field, so that after a failed submit the focus is
// on the first field with an error (issue 11; WCAG 2.2 technique G85:
// the error is identified where the person is).
func firstError(errs map[string]string, fields ...string) string {
	for _, f := range fields {
		if errs[f] != "" {
			return f
		}
	}
	return ""
}
