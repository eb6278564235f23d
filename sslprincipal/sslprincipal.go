// Package sslprincipal maps a client certificate's subject to a principal name with
// Kafka's ssl.principal.mapping.rules: a comma-separated list of DEFAULT (the subject as
// it is) and RULE:pattern/replacement/ rules, optionally ending in L or U to lower- or
// upper-case the result, tried in order; the first rule whose pattern matches the whole
// subject gives the name. It follows Kafka's SslPrincipalMapper: its rule splitting and
// parsing (the same regular expressions), its escaping of back references to groups the
// pattern does not have, and java.util.regex.Matcher.replaceAll's way of expanding the
// replacement ($n, ${name}, \x) over every match of the pattern. Patterns are Go (RE2)
// regular expressions, which are Java's for everything but back references, look-around
// and possessive quantifiers: a pattern using those does not compile and is refused.
// Subject writes the subject the rules are applied to, as Kafka sees it (subject.go).
package sslprincipal

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultRules is Kafka's default ssl.principal.mapping.rules: the subject as it is.
const DefaultRules = "DEFAULT"

// rulePattern is SslPrincipalMapper's RULE_PATTERN: DEFAULT, a RULE, or anything else
// (which parsing then refuses unless it is empty).
const rulePattern = `(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)`

var (
	// ruleSplitter is RULE_SPLITTER: group 1 is one rule.
	ruleSplitter = regexp.MustCompile(`\s*(` + rulePattern + `)\s*(,\s*|$)`)
	// ruleParser is RULE_PARSER, anchored as Matcher.lookingAt anchors it.
	ruleParser = regexp.MustCompile(`^(?:` + rulePattern + `)`)
	// backReference is Rule.BACK_REFERENCE_PATTERN.
	backReference = regexp.MustCompile(`\$(\d+)`)
)

// ErrNoMatchingRule is returned by Name when no rule applies to a subject (Kafka's
// NoMatchingRule): the connection is then refused.
var ErrNoMatchingRule = errors.New("no principal mapping rule applies")

// Mapper holds parsed rules. Safe for concurrent use.
type Mapper struct {
	rules []rule
}

type rule struct {
	isDefault   bool
	pattern     string         // as written, for String
	replacement string         // as written, for String
	full        *regexp.Regexp // the pattern anchored at both ends, as Matcher.matches
	re          *regexp.Regexp // the pattern, for the replace-all
	afterRune   *regexp.Regexp // one rune then the pattern, anchored: see replaceAll
	escaped     string         // replacement after escapeLiteralBackReferences
	lower       bool
	upper       bool
}

// Parse parses rules in Kafka's syntax. Empty entries are ignored, as Kafka ignores them.
// An error names the rule that is refused: one Kafka refuses, a pattern that is not a Go
// regular expression, or a replacement that Java's Matcher would refuse when applying it
// (a group the pattern does not have, a $ or \ with nothing after it), which Kafka would
// only notice on the first certificate the rule matches.
func Parse(rules string) (*Mapper, error) {
	var parsed []rule
	trimmed := strings.TrimFunc(rules, func(r rune) bool { return r <= ' ' }) // String.trim
	for _, m := range ruleSplitter.FindAllStringSubmatch(trimmed, -1) {
		r, ok, err := parseRule(m[1])
		if err != nil {
			return nil, err
		}
		if ok {
			parsed = append(parsed, r)
		}
	}
	return &Mapper{rules: parsed}, nil
}

// parseRule parses one rule; ok is false for an empty one.
func parseRule(s string) (rule, bool, error) {
	m := ruleParser.FindStringSubmatchIndex(s)
	if m == nil {
		return rule{}, false, fmt.Errorf("invalid rule: %s", s)
	}
	if m[1] != len(s) {
		return rule{}, false, fmt.Errorf("invalid rule: `%s`, unmatched substring: `%s`", s, s[m[1]:])
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return s[m[2*i]:m[2*i+1]], true
	}
	if _, ok := group(1); ok {
		return rule{isDefault: true}, true, nil
	}
	pattern, ok := group(2)
	if !ok {
		return rule{}, false, nil // the empty alternative: an empty rule
	}
	replacement, _ := group(4)
	flag, _ := group(6)
	r := rule{pattern: pattern, replacement: replacement, lower: flag == "L", upper: flag == "U"}
	var err error
	if r.re, err = regexp.Compile(pattern); err != nil {
		return rule{}, false, fmt.Errorf("rule %s: pattern %q is not a regular expression this broker can run (Go's RE2 syntax: no back references or look-around): %w", s, pattern, err)
	}
	r.full = regexp.MustCompile(`\A(?:` + pattern + `)\z`)
	r.afterRune = regexp.MustCompile(`\A(?s:.)(?:` + pattern + `)`)
	if r.escaped, err = escapeLiteralBackReferences(replacement, r.re.NumSubexp()); err != nil {
		return rule{}, false, fmt.Errorf("rule %s: %w", s, err)
	}
	// The replacement's errors do not depend on the subject: find them now.
	if _, err := r.expand(nil, "", make([]int, 2*(r.re.NumSubexp()+1))); err != nil {
		return rule{}, false, fmt.Errorf("rule %s: replacement %q: %w", s, replacement, err)
	}
	return r, true, nil
}

// Name returns the principal name of a subject (RFC 2253): the first rule that applies,
// or ErrNoMatchingRule.
func (m *Mapper) Name(subject string) (string, error) {
	for _, r := range m.rules {
		if name, ok := r.apply(subject); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w to %s, rules %s", ErrNoMatchingRule, subject, m)
}

// String lists the rules as Kafka's SslPrincipalMapper.toString does.
func (m *Mapper) String() string {
	parts := make([]string, len(m.rules))
	for i, r := range m.rules {
		parts[i] = r.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (r rule) String() string {
	if r.isDefault {
		return "DEFAULT"
	}
	s := "RULE:" + r.pattern + "/" + r.replacement
	switch {
	case r.lower:
		s += "/L"
	case r.upper:
		s += "/U"
	}
	return s
}

func (r rule) apply(subject string) (string, bool) {
	if r.isDefault {
		return subject, true
	}
	if !r.full.MatchString(subject) {
		return "", false
	}
	name := r.replaceAll(subject)
	switch {
	case r.lower:
		name = strings.ToLower(name)
	case r.upper:
		name = strings.ToUpper(name)
	}
	return name, true
}

// replaceAll is Java's String.replaceAll(pattern, replacement). It differs from Go's
// ReplaceAllString in one case: after a non-empty match ending at e, Java also takes an
// empty match at e, where Go skips it (so in Kafka RULE:(.*)/$1@X/ maps "a" to "a@X@X").
// Such an empty match is found by matching one rune then the pattern at the rune before
// e, which gives the pattern the text before e as context (^, \b).
func (r rule) replaceAll(s string) string {
	var out []byte
	last := 0
	emit := func(loc []int) {
		out = append(out, s[last:loc[0]]...)
		// parseRule checked that the replacement expands.
		out, _ = r.expand(out, s, loc)
		last = loc[1]
	}
	for _, loc := range r.re.FindAllStringSubmatchIndex(s, -1) {
		if last > 0 && loc[0] == last && loc[1] == last {
			continue // Java took this one already, below
		}
		emit(loc)
		if loc[1] == loc[0] {
			continue
		}
		e := loc[1]
		_, w := utf8.DecodeLastRuneInString(s[:e])
		if m := r.afterRune.FindStringSubmatchIndex(s[e-w:]); m != nil && m[1] == w {
			// m's groups are the pattern's: (?s:.) and (?:...) capture nothing.
			empty := make([]int, len(m))
			for i := range empty {
				empty[i] = -1
				if m[i] >= 0 {
					empty[i] = m[i] + e - w
				}
			}
			empty[0], empty[1] = e, e
			emit(empty)
		}
	}
	return string(append(out, s[last:]...))
}

// expand appends the replacement for one match (loc as Go's submatch indexes) as
// java.util.regex.Matcher.appendReplacement expands it: \x is x, $n the longest group
// number the pattern has, ${name} a named group; a group that did not take part adds
// nothing.
func (r rule) expand(out []byte, s string, loc []int) ([]byte, error) {
	rep := r.escaped
	groups := r.re.NumSubexp()
	appendGroup := func(n int) {
		if loc[2*n] >= 0 && loc[2*n+1] >= 0 {
			out = append(out, s[loc[2*n]:loc[2*n+1]]...)
		}
	}
	for i := 0; i < len(rep); {
		switch c := rep[i]; c {
		case '\\':
			i++
			if i == len(rep) {
				return out, errors.New("character to be escaped is missing")
			}
			_, w := utf8.DecodeRuneInString(rep[i:])
			out = append(out, rep[i:i+w]...)
			i += w
		case '$':
			i++
			if i == len(rep) {
				return out, errors.New("illegal group reference: group index is missing")
			}
			if rep[i] == '{' {
				i++
				j := i
				for j < len(rep) && isASCIIAlnum(rep[j]) {
					j++
				}
				name := rep[i:j]
				switch {
				case name == "":
					return out, errors.New("named capturing group has 0 length name")
				case j == len(rep) || rep[j] != '}':
					return out, errors.New("named capturing group is missing trailing '}'")
				case name[0] >= '0' && name[0] <= '9':
					return out, fmt.Errorf("capturing group name {%s} starts with digit character", name)
				}
				n := r.re.SubexpIndex(name)
				if n < 0 {
					return out, fmt.Errorf("no group with name {%s}", name)
				}
				appendGroup(n)
				i = j + 1
				continue
			}
			if rep[i] < '0' || rep[i] > '9' {
				return out, errors.New("illegal group reference")
			}
			n := int(rep[i] - '0')
			i++
			for i < len(rep) && rep[i] >= '0' && rep[i] <= '9' {
				next := n*10 + int(rep[i]-'0')
				if next > groups {
					break
				}
				n = next
				i++
			}
			if n > groups {
				return out, fmt.Errorf("no group %d", n)
			}
			appendGroup(n)
		default:
			out = append(out, c)
			i++
		}
	}
	return out, nil
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// escapeLiteralBackReferences is Kafka's (taken by Kafka from Apache NiFi): a $n naming a
// group the pattern does not have is escaped to a literal, after dropping trailing digits
// while n is 10 or more ($12 with one group is group 1 then "2"). Like Kafka's, it
// inserts each escape at the reference's position in the original replacement, so a
// second escaped reference lands one character early per escape before it.
func escapeLiteralBackReferences(unescaped string, groups int) (string, error) {
	if groups == 0 {
		return unescaped, nil
	}
	value := unescaped
	for _, m := range backReference.FindAllStringSubmatchIndex(unescaped, -1) {
		num := unescaped[m[2]:m[3]]
		if strings.HasPrefix(num, "0") {
			continue
		}
		idx, err := strconv.ParseInt(num, 10, 32)
		if err != nil {
			return "", fmt.Errorf("back reference $%s: %w", num, err)
		}
		for idx > int64(groups) && idx >= 10 {
			idx /= 10
		}
		if idx > int64(groups) {
			start := m[2]
			value = value[:start-1] + `\` + value[start-1:]
		}
	}
	return value, nil
}
