package crier

import (
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// option checks and stores one non-secret type-specific option.
func (l *loader) option(nc *NotifierConfig, key string, spec optSpec, v *yaml.Node, field, stateDir string) {
	switch spec.kind {
	case optList:
		list, ok := l.list(v, field)
		if !ok {
			return
		}
		if spec.required && len(list) == 0 {
			l.errf(v, field, "must not be empty")
			return
		}
		if key == "to" {
			for i, a := range list {
				if _, err := mail.ParseAddress(a); err != nil {
					l.errf(resolve(v).Content[i], index(field, i), "invalid address %q: %v", a, err)
				}
			}
		}
		nc.Lists[key] = list
		return
	case optMap:
		es, ok := l.entries(v, field)
		if !ok {
			return
		}
		m := map[string]string{}
		for _, e := range es {
			if s, ok := l.str(e.v, sub(field, e.key)); ok {
				m[e.key] = s
			}
		}
		nc.Maps[key] = m
		return
	}
	s, ok := l.str(v, field)
	if !ok {
		if isNull(v) && spec.required {
			l.errf(v, field, "must not be empty")
		}
		return
	}
	s = strings.TrimSpace(s)
	if s == "" && spec.required {
		l.errf(v, field, "must not be empty")
		return
	}
	c, err := canonical(spec, s)
	if err != nil {
		l.errf(v, field, "%v", err)
		return
	}
	if spec.kind == optPath {
		c = l.path(c, stateDir)
	}
	nc.Options[key] = c
}

// canonical checks s against spec and returns the form notifiers read.
func canonical(spec optSpec, s string) (string, error) {
	if len(spec.oneOf) > 0 {
		if v := strings.ToLower(s); slices.Contains(spec.oneOf, v) {
			return v, nil
		}
		return "", fmt.Errorf("%q is not one of: %s", s, strings.Join(spec.oneOf, ", "))
	}
	switch spec.kind {
	case optURL:
		_, err := checkURL(s)
		return s, err
	case optBool:
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			return "true", nil
		case "false", "no", "off":
			return "false", nil
		}
		return "", fmt.Errorf("expected true or false, got %q", s)
	case optInt:
		v, err := strconv.Atoi(s)
		if err != nil {
			return "", fmt.Errorf("expected a whole number, got %q", s)
		}
		if v < spec.min || v > spec.max {
			return "", fmt.Errorf("%d is out of range %d..%d", v, spec.min, spec.max)
		}
		return strconv.Itoa(v), nil
	case optSeconds:
		if n, err := strconv.Atoi(s); err == nil {
			s = strconv.Itoa(n) + "s"
		}
		fallthrough
	case optDuration:
		d, err := ParseDuration(s)
		if err != nil {
			return "", err
		}
		if d <= 0 {
			return "", fmt.Errorf("must be greater than 0")
		}
		return d.String(), nil
	case optTemplate:
		return s, parseTemplate("template", s)
	case optAddress:
		_, err := mail.ParseAddress(s)
		if err != nil {
			return "", fmt.Errorf("invalid address %q: %v", s, err)
		}
		return s, nil
	case optMethod:
		m := strings.ToUpper(s)
		if strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return "", fmt.Errorf("invalid HTTP method %q", s)
		}
		return m, nil
	}
	return s, nil
}

func (l *loader) quietHours(n *yaml.Node, field string) *QuietHours {
	es, ok := l.entries(n, field)
	if !ok {
		return nil
	}
	q := &QuietHours{Location: time.Local}
	var from, to *yaml.Node
	good := true
	for _, e := range es {
		fk := sub(field, e.key)
		switch e.key {
		case "from", "to":
			s, ok := l.str(e.v, fk)
			if !ok {
				good = false
				continue
			}
			d, err := parseClock(s)
			if err != nil {
				l.errf(e.v, fk, "%v", err)
				good = false
				continue
			}
			if e.key == "from" {
				q.From, from = d, e.v
			} else {
				q.To, to = d, e.v
			}
		case "tz":
			if s, ok := l.str(e.v, fk); ok && s != "" {
				loc, err := time.LoadLocation(s)
				if err != nil {
					l.errf(e.v, fk, "unknown time zone %q", s)
					good = false
					continue
				}
				q.Location = loc
			}
		default:
			l.unknown(e, field)
		}
	}
	if good && (from == nil || to == nil) {
		l.errf(resolve(n), field, "needs both from and to (HH:MM)")
		return nil
	}
	if good && q.From == q.To {
		l.errf(to, sub(field, "to"), "from and to are both %s: the window would be empty", to.Value)
		return nil
	}
	if !good {
		return nil
	}
	return q
}

// parseClock reads "HH:MM" as an offset from midnight.
func parseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("expected a time of day HH:MM (00:00..23:59), got %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}
