package feeds

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// toUTF8 returns body as UTF-8 without a byte order mark, and with any XML
// declaration's encoding rewritten to utf-8 when the bytes were converted, so
// that gofeed (and encoding/xml below it) sees one encoding only.
//
// The encoding is taken from, in order: a byte order mark; the null-byte
// pattern of a UTF-16/32 document without one; the XML declaration; the HTTP
// Content-Type charset; UTF-8 when the bytes are valid UTF-8; windows-1252
// otherwise (the web's de-facto default, and a superset of ISO-8859-1: an
// undeclared Latin-1 feed is far commoner than an undeclared CJK one, and a
// readable-but-imperfect feed beats one that never parses).
func toUTF8(body []byte, contentType string) ([]byte, error) {
	if enc := sniffUnicode(body); enc != nil {
		out, err := enc.NewDecoder().Bytes(body)
		if err != nil {
			return nil, fmt.Errorf("decoding UTF-16/32: %w", err)
		}
		out = bytes.TrimPrefix(out, utf8BOM)
		return rewriteDeclEncoding(out), nil
	}
	body = stripLeadingBOM(body)

	declared := declEncoding(body)
	if declared != "" {
		if isUTF8Label(declared) {
			if utf8.Valid(body) {
				return body, nil
			}
			// The declaration is wrong about the bytes: fall through to
			// the header and the windows-1252 default.
		} else if isWideLabel(declared) {
			// Says UTF-16/32 but has neither BOM nor nulls: it is not.
		} else if enc, _ := charset.Lookup(declared); enc != nil {
			return decodeLegacy(body, enc)
		}
		// An unknown label: encoding/xml would refuse the whole document,
		// so treat it as undeclared.
	}

	if label := contentTypeCharset(contentType); label != "" && !isUTF8Label(label) {
		if enc, _ := charset.Lookup(label); enc != nil {
			// A header charset contradicted by a valid, non-ASCII UTF-8
			// body is the commoner server mistake: believe the bytes.
			if !(utf8.Valid(body) && hasNonASCII(body)) {
				return decodeLegacy(body, enc)
			}
		}
	}
	if utf8.Valid(body) {
		if declared != "" && !isUTF8Label(declared) {
			return rewriteDeclEncoding(body), nil
		}
		return body, nil
	}
	return decodeLegacy(body, charmap.Windows1252)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func decodeLegacy(body []byte, enc encoding.Encoding) ([]byte, error) {
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return nil, fmt.Errorf("decoding charset: %w", err)
	}
	return rewriteDeclEncoding(out), nil
}

// sniffUnicode recognises UTF-16 and UTF-32 by byte order mark, or without
// one by how the nulls fall around the first '<' or '{'.
func sniffUnicode(b []byte) encoding.Encoding {
	switch {
	case bytes.HasPrefix(b, []byte{0x00, 0x00, 0xFE, 0xFF}):
		return utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0x00, 0x00}):
		return utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	}
	if len(b) < 4 {
		return nil
	}
	isOpen := func(c byte) bool { return c == '<' || c == '{' }
	switch {
	case b[0] == 0 && b[1] == 0 && b[2] == 0 && isOpen(b[3]):
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	case isOpen(b[0]) && b[1] == 0 && b[2] == 0 && b[3] == 0:
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)
	case b[0] == 0 && isOpen(b[1]) && b[2] == 0 && b[3] != 0:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case isOpen(b[0]) && b[1] == 0 && b[2] != 0 && b[3] == 0:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	}
	return nil
}

// stripLeadingBOM drops a UTF-8 byte order mark at the start, also when
// whitespace precedes it (seen in the wild from templating engines).
func stripLeadingBOM(b []byte) []byte {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if bytes.HasPrefix(trimmed, utf8BOM) {
		return trimmed[len(utf8BOM):]
	}
	return b
}

// declEncodingSpan finds the value of the encoding pseudo-attribute in an
// XML declaration: decl[start:end].
func declEncodingSpan(decl []byte) (start, end int, ok bool) {
	k := bytes.Index(decl, []byte("encoding"))
	if k < 0 {
		return 0, 0, false
	}
	i := k + len("encoding")
	skip := func() {
		for i < len(decl) && (decl[i] == ' ' || decl[i] == '\t' || decl[i] == '\r' || decl[i] == '\n') {
			i++
		}
	}
	skip()
	if i >= len(decl) || decl[i] != '=' {
		return 0, 0, false
	}
	i++
	skip()
	if i >= len(decl) || (decl[i] != '"' && decl[i] != '\'') {
		return 0, 0, false
	}
	q := decl[i]
	start = i + 1
	n := bytes.IndexByte(decl[start:], q)
	if n < 0 {
		return 0, 0, false
	}
	return start, start + n, true
}

// xmlDecl returns the bounds of the XML declaration when one appears near the
// start (some feeds put a comment or whitespace before it).
func xmlDecl(b []byte) (start, end int, ok bool) {
	head := b[:min(len(b), 1024)]
	start = bytes.Index(head, []byte("<?xml"))
	if start < 0 || start+5 >= len(head) {
		return 0, 0, false
	}
	if c := head[start+5]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '?' {
		return 0, 0, false
	}
	rel := bytes.Index(head[start:], []byte("?>"))
	if rel < 0 {
		return 0, 0, false
	}
	return start, start + rel + 2, true
}

func declEncoding(b []byte) string {
	s, e, ok := xmlDecl(b)
	if !ok {
		return ""
	}
	vs, ve, ok := declEncodingSpan(b[s:e])
	if !ok {
		return ""
	}
	return strings.TrimSpace(string(b[s+vs : s+ve]))
}

// rewriteDeclEncoding makes the declaration say utf-8 after a conversion, or
// encoding/xml would decode the already-converted bytes a second time.
func rewriteDeclEncoding(b []byte) []byte {
	s, e, ok := xmlDecl(b)
	if !ok {
		return b
	}
	vs, ve, ok := declEncodingSpan(b[s:e])
	if !ok {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:s+vs]...)
	out = append(out, "utf-8"...)
	out = append(out, b[s+ve:]...)
	return out
}

func contentTypeCharset(ct string) string {
	if ct == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(params["charset"])
}

func isUTF8Label(label string) bool {
	l := strings.ToLower(strings.TrimSpace(label))
	return l == "utf-8" || l == "utf8" || l == "us-ascii" || l == "ascii"
}

func isWideLabel(label string) bool {
	l := strings.ToLower(label)
	return strings.HasPrefix(l, "utf-16") || strings.HasPrefix(l, "utf-32") ||
		strings.HasPrefix(l, "ucs-") || strings.HasPrefix(l, "utf16") || strings.HasPrefix(l, "utf32")
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
