package coredns

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// DefaultPort is the port of a server block that names none.
const DefaultPort = 53

// Server is one server block of a Corefile: the zones it serves on a port
// and its plugins (directive names with their arguments).
type Server struct {
	Zones   []string // fully qualified, lower case: "." or "foo.bar.com."
	Port    int
	Plugins []Plugin
}

// Plugin is a directive of a server block.
type Plugin struct {
	Name string
	Args []string
}

// Has reports whether the server block has the plugin.
func (s Server) Has(name string) bool {
	for _, p := range s.Plugins {
		if p.Name == name {
			return true
		}
	}
	return false
}

// ParseCorefile reads the server blocks of a Corefile. Snippets ((name)
// blocks) are skipped; a plugin's own block ({ ... } after its arguments)
// is read past. Errors name the line.
func ParseCorefile(text string) ([]Server, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	var servers []Server
	for i := 0; i < len(toks); {
		// Keys up to "{".
		var keys []token
		for i < len(toks) && toks[i].text != "{" {
			if toks[i].text == "}" {
				return nil, fmt.Errorf("line %d: unexpected }", toks[i].line)
			}
			keys = append(keys, toks[i])
			i++
		}
		if i == len(toks) {
			if len(keys) == 0 {
				break
			}
			return nil, fmt.Errorf("line %d: server block %q has no { ... }", keys[0].line, keys[0].text)
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("line %d: { without a zone before it", toks[i].line)
		}
		open := toks[i]
		i++
		// Directives up to the matching "}".
		var plugins []Plugin
		var cur *Plugin
		line := -1
		closed := false
		for i < len(toks) {
			t := toks[i]
			i++
			if t.text == "}" {
				closed = true
				break
			}
			if t.text == "{" {
				// A plugin's block: skip to its end.
				depth := 1
				for i < len(toks) && depth > 0 {
					switch toks[i].text {
					case "{":
						depth++
					case "}":
						depth--
					}
					i++
				}
				if depth > 0 {
					return nil, fmt.Errorf("line %d: { not closed", t.line)
				}
				cur, line = nil, -1
				continue
			}
			if cur == nil || t.line != line {
				plugins = append(plugins, Plugin{Name: t.text})
				cur, line = &plugins[len(plugins)-1], t.line
				continue
			}
			cur.Args = append(cur.Args, t.text)
		}
		if !closed {
			return nil, fmt.Errorf("line %d: { not closed", open.line)
		}
		if strings.HasPrefix(keys[0].text, "(") {
			continue // a snippet
		}
		byPort := map[int]*Server{}
		var order []int
		for _, k := range keys {
			for _, key := range strings.Split(k.text, ",") {
				if key == "" {
					continue
				}
				zone, port, err := parseKey(key)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", k.line, err)
				}
				s := byPort[port]
				if s == nil {
					s = &Server{Port: port, Plugins: plugins}
					byPort[port] = s
					order = append(order, port)
				}
				s.Zones = append(s.Zones, zone)
			}
		}
		for _, p := range order {
			servers = append(servers, *byPort[p])
		}
	}
	if len(servers) == 0 {
		return nil, errors.New("no server block")
	}
	return servers, nil
}

// parseKey reads a server block key: [dns://]zone[:port].
func parseKey(key string) (zone string, port int, err error) {
	k := strings.TrimPrefix(key, "dns://")
	if strings.Contains(k, "://") {
		return "", 0, fmt.Errorf("server block key %q: only dns:// (plain DNS) is served", key)
	}
	port = DefaultPort
	if i := strings.LastIndex(k, ":"); i >= 0 {
		p, err := strconv.Atoi(k[i+1:])
		if err != nil || p < 1 || p > 65535 {
			return "", 0, fmt.Errorf("server block key %q: port %q is not a number from 1 to 65535", key, k[i+1:])
		}
		port = p
		k = k[:i]
	}
	if k == "" {
		k = "."
	}
	if _, ok := dns.IsDomainName(k); !ok {
		return "", 0, fmt.Errorf("server block key %q: %q is not a domain name", key, k)
	}
	return dns.CanonicalName(k), port, nil
}

type token struct {
	text string
	line int
}

// tokenize splits a Corefile into words, braces and quoted strings;
// comments (# to the end of the line) go.
func tokenize(text string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '{' || c == '}':
			toks = append(toks, token{string(c), line})
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' && j+1 < len(text) {
					j++
				}
				if text[j] == '\n' {
					line++
				}
				b.WriteByte(text[j])
				j++
			}
			if j == len(text) {
				return nil, fmt.Errorf("line %d: quote not closed", line)
			}
			toks = append(toks, token{b.String(), line})
			i = j + 1
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n{}#\"", rune(text[j])) {
				j++
			}
			toks = append(toks, token{text[i:j], line})
			i = j
		}
	}
	return toks, nil
}
