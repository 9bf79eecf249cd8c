package crier

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"
)

// templateJSON is the template function json: v as a JSON value, quotes
// included, so a headline dropped into a JSON template stays one string
// ({"text": {{json .Title}}}) whatever quotes or backslashes it holds.
// An unknown time (the zero Published) and a nil pointer (an unset
// Priority) are null rather than year 1; a nil list is []. HTML characters are
// left alone: the output goes to a JSON API, not into a web page.
func templateJSON(v any) (string, error) {
	if t, ok := v.(time.Time); ok && t.IsZero() {
		return "null", nil
	}
	switch rv := reflect.ValueOf(v); {
	case rv.Kind() == reflect.Pointer && rv.IsNil():
		return "null", nil
	case rv.Kind() == reflect.Slice && rv.IsNil():
		return "[]", nil // no categories is an empty list, as in the webhook's document
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}
