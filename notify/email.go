package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// Limits that keep a message readable; mail itself has no small limit.
const (
	emailMaxSubject = 200
	emailMaxBody    = 20000
	emailMaxImage   = 2 << 20 // an embedded picture; a lead image is far smaller
)

// Email sends one message per notification over SMTP: multipart/
// alternative with a text/plain and an HTML-escaped text/html part. An
// item's picture is embedded: crier downloads it and the HTML part shows
// it as a cid: image (multipart/related), so the reader's mail client
// loads nothing remote, tells no one when the mail was read, and shows the
// picture even where remote images are blocked. A picture that cannot be
// had is left out.
//
// tls is "starttls" (the default: refuse to send if the server does not
// offer STARTTLS), "tls" (implicit TLS, usually port 465) or "none" (plain
// text; net/smtp then refuses to send a password unless host is loopback).
type Email struct {
	base
	host     string
	addr     string // host:port
	mode     string
	username string
	password string
	from     *mail.Address
	to       []*mail.Address
	listID   string
	secrets  secrets // the password, as a server may quote it back
	// tlsConfig is cloned for every connection; tests set RootCAs.
	tlsConfig *tls.Config
	// pictures downloads an item's picture; nil with images: false.
	pictures *imageFetcher
	log      *slog.Logger
}

// NewEmail builds an email notifier.
func NewEmail(cfg crier.NotifierConfig) (*Email, error) {
	fail := func(format string, args ...any) (*Email, error) {
		return nil, fmt.Errorf("notifier %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	host, err := svcRequired(cfg, "host")
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(cfg.Option("port", "587"))
	if err != nil || port < 1 || port > 65535 {
		return fail("option port: %q is not a port number", cfg.Option("port", ""))
	}
	mode := strings.ToLower(cfg.Option("tls", "starttls"))
	if mode != "starttls" && mode != "tls" && mode != "none" {
		return fail("option tls: %q is not starttls, tls or none", mode)
	}
	from, err := mail.ParseAddress(cfg.Option("from", ""))
	if err != nil {
		return fail("option from: %v", err)
	}
	var to []*mail.Address
	for _, s := range cfg.Lists["to"] {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return fail("option to: %q: %v", s, err)
		}
		to = append(to, a)
	}
	if len(to) == 0 {
		return fail("option to is required")
	}
	b, err := newBase(cfg, 10*time.Second)
	if err != nil {
		return nil, err
	}
	listID := strings.Trim(strings.TrimSpace(cfg.Option("list_id", "")), "<>")
	if listID == "" {
		listID = "crier." + addrDomain(from.Address)
	}
	if strings.ContainsAny(listID, "\r\n<> ") {
		return fail("option list_id: %q is not a list id (like news.example.com)", listID)
	}
	var pictures *imageFetcher
	if b.images {
		pictures = newImageFetcher("", emailMaxImage, false)
	}
	return &Email{
		pictures: pictures, log: slog.New(slog.DiscardHandler),
		base: b, host: host,
		addr: net.JoinHostPort(host, strconv.Itoa(port)), mode: mode,
		username: cfg.Option("username", ""), password: cfg.Option("password", ""),
		from: from, to: to, listID: listID, secrets: configSecrets(cfg),
		tlsConfig: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12},
	}, nil
}

func addrDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// Send mails n to every recipient.
func (e *Email) Send(ctx context.Context, n crier.Notification) error {
	text, err := e.render.render(n)
	if err != nil {
		return err
	}
	var pic *picture
	if img := itemImage(n); e.pictures != nil && img != "" {
		p, err := e.pictures.fetch(ctx, img)
		if err != nil {
			e.log.Info("image not embedded", "notifier", e.name, "item", n.ItemID, "url", img, "err", err)
		} else {
			pic = &p
		}
	}
	msg, err := e.message(n, text, pic, time.Now())
	if err != nil {
		return Permanent(fmt.Errorf("notifier %s: %w", e.name, err))
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// Servers quote commands back in their replies, AUTH's included.
	return e.secrets.scrubErr(e.deliver(ctx, msg))
}

// subject is the rendered title; for an item without a title template it
// also names the headline, which is what a mailbox list needs to show.
func (e *Email) subject(n crier.Notification, text Rendered) string {
	s := text.Title
	if n.Kind == crier.KindItem && e.cfg.TitleTemplate == "" {
		s = joinNonEmpty(": ", text.Title, sanitize(renderHeadline(n)))
	}
	return crier.Truncate(collapse(s), emailMaxSubject)
}

// bodies returns the plain and HTML text. Without a message template the
// mail carries more than a lock screen: the whole summary, and every
// headline of a summary with its link.
func (e *Email) bodies(n crier.Notification, text Rendered, cid string) (plain, htm string) {
	var p, h strings.Builder
	if cid != "" {
		h.WriteString(`<p><img src="cid:` + html.EscapeString(cid) + `" alt="" style="max-width:100%;height:auto"></p>` + "\n")
	}
	para := func(s string) {
		if s = strings.TrimSpace(s); s == "" {
			return
		}
		p.WriteString(s + "\n\n")
		h.WriteString("<p>" + strings.ReplaceAll(html.EscapeString(s), "\n", "<br>\n") + "</p>\n")
	}
	link := func(u string) {
		if u = webLink(u); u != "" {
			p.WriteString(u + "\n\n")
			h.WriteString(`<p><a href="` + html.EscapeString(u) + `">` + html.EscapeString(u) + "</a></p>\n")
		}
	}
	switch {
	case e.cfg.MessageTemplate == "" && n.Kind == crier.KindItem:
		para(sanitize(renderHeadline(n)))
		if collapse(n.Title) != "" {
			para(sanitize(crier.Truncate(strings.TrimSpace(n.Summary), emailMaxBody)))
		}
		link(n.Link)
	case e.cfg.MessageTemplate == "" && n.Kind == crier.KindSummary && len(n.Items) > 0:
		h.WriteString("<ul>\n")
		for _, it := range n.Items {
			t := sanitize(collapse(it.Title))
			u := webLink(it.Link)
			p.WriteString("- " + joinNonEmpty("\n  ", t, u) + "\n")
			if u != "" {
				label := t
				if label == "" {
					label = u
				}
				h.WriteString(`<li><a href="` + html.EscapeString(u) + `">` + html.EscapeString(label) + "</a></li>\n")
			} else {
				h.WriteString("<li>" + html.EscapeString(t) + "</li>\n")
			}
		}
		h.WriteString("</ul>\n")
		if more := n.Count - len(n.Items); more > 0 {
			para(fmt.Sprintf("and %d more", more))
		} else {
			p.WriteString("\n")
		}
	default:
		para(crier.Truncate(text.Message, emailMaxBody))
		link(n.Link)
	}
	return p.String(), "<!DOCTYPE html>\n<html><body>\n" + h.String() + "</body></html>\n"
}

// message builds the RFC 5322 message with CRLF line ends; pic, when
// not nil, is embedded in the HTML part.
func (e *Email) message(n crier.Notification, text Rendered, pic *picture, now time.Time) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	domain := addrDomain(e.from.Address)
	var cid string
	if pic != nil {
		cid = "image." + hex.EncodeToString(id[:8]) + "@" + domain
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	plain, htm := e.bodies(n, text, cid)
	if err := qpPart(mw, "text/plain; charset=utf-8", plain); err != nil {
		return nil, err
	}
	if pic == nil {
		if err := qpPart(mw, "text/html; charset=utf-8", htm); err != nil {
			return nil, err
		}
	} else if err := relatedPart(mw, htm, cid, *pic); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	var to []string
	for _, a := range e.to {
		to = append(to, a.String())
	}
	// Encoded words are at most 75 characters; fold between them so no
	// header line grows past what servers accept.
	subject := strings.ReplaceAll(mime.QEncoding.Encode("utf-8", e.subject(n, text)), "?= =?", "?=\r\n =?")
	var head bytes.Buffer
	for _, h := range [][2]string{
		{"From", e.from.String()},
		{"To", strings.Join(to, ",\r\n ")},
		{"Subject", subject},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"List-Id", "<" + e.listID + ">"},
		{"Auto-Submitted", "auto-generated"}, // RFC 3834: no vacation replies
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
	} {
		head.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	head.WriteString("\r\n")
	return append(head.Bytes(), buf.Bytes()...), nil
}

// qpPart writes a quoted-printable text part.
func qpPart(mw *multipart.Writer, ctype, body string) error {
	w, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {ctype},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return err
	}
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(body)); err != nil {
		return err
	}
	return qp.Close()
}

// relatedPart writes multipart/related: the HTML and the picture it shows
// as cid:CID (RFC 2387, RFC 2392).
func relatedPart(mw *multipart.Writer, htm, cid string, pic picture) error {
	var buf bytes.Buffer
	rel := multipart.NewWriter(&buf)
	if err := qpPart(rel, "text/html; charset=utf-8", htm); err != nil {
		return err
	}
	w, err := rel.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType(pic.contentType, map[string]string{"name": pic.name})},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Id":                {"<" + cid + ">"},
		"Content-Disposition":       {mime.FormatMediaType("inline", map[string]string{"filename": pic.name})},
	})
	if err != nil {
		return err
	}
	// base64 in lines of 76, as RFC 2045 asks.
	enc := base64.StdEncoding.EncodeToString(pic.data)
	for len(enc) > 76 {
		if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
			return err
		}
		enc = enc[76:]
	}
	if _, err := io.WriteString(w, enc+"\r\n"); err != nil {
		return err
	}
	if err := rel.Close(); err != nil {
		return err
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type": {`multipart/related; type="text/html"; boundary="` + rel.Boundary() + `"`},
	})
	if err != nil {
		return err
	}
	_, err = part.Write(buf.Bytes())
	return err
}

// deliver speaks SMTP under ctx: the dial honours it, the connection's
// deadline is its deadline and cancelling it closes the connection.
func (e *Email) deliver(ctx context.Context, msg []byte) (err error) {
	what := "notifier " + e.name + " (email " + e.addr + ")"
	fail := func(stage string, err error) error {
		if ctx.Err() != nil {
			return Temporary(fmt.Errorf("%s: %s: %w (%v)", what, stage, ctx.Err(), err), 0)
		}
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			return Permanent(fmt.Errorf("%s: %s: %w", what, stage, err))
		}
		return Temporary(fmt.Errorf("%s: %s: %w", what, stage, err), 0)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if e.mode == "tls" {
		tc := tls.Client(conn, e.tlsConfig.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS handshake", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		return fail("greeting", err)
	}
	defer c.Close()
	if name, herr := os.Hostname(); herr == nil && strings.Contains(name, ".") {
		if err := c.Hello(name); err != nil {
			return fail("EHLO", err)
		}
	}
	if e.mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Permanent(fmt.Errorf("%s: the server does not offer STARTTLS (set tls: none to send unencrypted)", what))
		}
		if err := c.StartTLS(e.tlsConfig.Clone()); err != nil {
			return fail("STARTTLS", err)
		}
	}
	if e.username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return Permanent(fmt.Errorf("%s: the server offers no AUTH but a username is configured", what))
		}
		if err := c.Auth(smtp.PlainAuth("", e.username, e.password, e.host)); err != nil {
			if msg := err.Error(); msg == "unencrypted connection" || msg == "wrong host name" {
				// net/smtp refusing to send a password in clear.
				return Permanent(fmt.Errorf("%s: AUTH: %w (use tls: starttls or tls)", what, err))
			}
			return fail("AUTH", err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return fail("MAIL FROM", err)
	}
	for _, a := range e.to {
		if err := c.Rcpt(a.Address); err != nil {
			return fail("RCPT TO "+a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("DATA", err)
	}
	// The message is accepted; a failed QUIT must not cause a duplicate.
	_ = c.Quit()
	return nil
}
