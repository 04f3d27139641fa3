package postgres

import (
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// statement is what a trace may say about one SQL text without its values:
// the OpenTelemetry query summary (operations and the tables they touch, in
// order), the operation and table when there is only one of each, and the
// text with every literal replaced by '?'.
type statement struct {
	summary    string
	operation  string
	collection string
	sanitized  string
	// attrs are the span attributes of the statement, made once.
	attrs []attribute.KeyValue
}

// maxSummary is the longest summary the conventions allow.
const maxSummary = 255

// operations are the keywords a summary records as operations wherever they
// appear, and the keywords whose next name is a table.
var (
	operations = map[string]bool{"SELECT": true, "INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true}
	targeting  = map[string]bool{"FROM": true, "JOIN": true, "INTO": true, "UPDATE": true, "TABLE": true}
	// notAlias ends a FROM list item: what follows a table when it has no alias.
	notAlias = map[string]bool{"WHERE": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true,
		"CROSS": true, "NATURAL": true, "ON": true, "USING": true, "GROUP": true, "ORDER": true, "LIMIT": true,
		"OFFSET": true, "FOR": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "HAVING": true, "WINDOW": true,
		"RETURNING": true, "SET": true, "VALUES": true, "SELECT": true, "DEFAULT": true, "OVERRIDING": true, "WITH": true,
		"FETCH": true, "AS": true, "TABLESAMPLE": true, "WHEN": true}
	// opensSubquery are the keywords after which a parenthesis is not a
	// function call's.
	opensSubquery = map[string]bool{"AS": true, "IN": true, "EXISTS": true, "FROM": true, "JOIN": true, "ON": true,
		"ANY": true, "ALL": true, "SOME": true, "LATERAL": true, "VALUES": true, "WHERE": true, "AND": true, "OR": true,
		"NOT": true, "SELECT": true, "THEN": true, "ELSE": true, "WHEN": true, "RETURNING": true, "USING": true,
		"SET": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "MATERIALIZED": true}
)

type tokenKind int

const (
	word    tokenKind = iota // keyword or identifier, possibly qualified (a.b)
	punct                    // ( ) , ;
	literal                  // string, number or parameter
)

type token struct {
	kind tokenKind
	text string
}

// lex splits sql into words and punctuation, dropping comments; literals
// (strings, dollar-quoted strings, numbers) become one literal token each and
// are replaced by '?' in the sanitized text, parameters ($1) kept.
func lex(sql string) (toks []token, sanitized string) {
	var out strings.Builder
	out.Grow(len(sql))
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				end = len(sql) - i
			}
			out.WriteString(sql[i : i+end])
			i += end
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				end = len(sql) - i - 2
			} else {
				end += 2
			}
			out.WriteString(sql[i : i+2+end])
			i += 2 + end
		case c == '\'' || (c == 'E' || c == 'e') && i+1 < len(sql) && sql[i+1] == '\'' && !wordByte(prev(sql, i)):
			j := i
			if c != '\'' {
				j++
			}
			j = skipQuoted(sql, j, '\'', c != '\'')
			toks = append(toks, token{literal, "?"})
			out.WriteByte('?')
			i = j
		case c == '"':
			j := skipQuoted(sql, i, '"', false)
			i = appendWord(&toks, &out, sql, i, j)
		case c == '$' && i+1 < len(sql) && isDigit(sql[i+1]):
			j := i + 1
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			toks = append(toks, token{literal, sql[i:j]})
			out.WriteString(sql[i:j])
			i = j
		case c == '$':
			// A dollar-quoted string: $tag$ ... $tag$.
			end := strings.IndexByte(sql[i+1:], '$')
			if end < 0 {
				out.WriteByte(c)
				i++
				continue
			}
			tag := sql[i : i+end+2]
			close := strings.Index(sql[i+len(tag):], tag)
			j := len(sql)
			if close >= 0 {
				j = i + len(tag) + close + len(tag)
			}
			toks = append(toks, token{literal, "?"})
			out.WriteByte('?')
			i = j
		case isDigit(c) && !wordByte(prev(sql, i)):
			j := i
			for j < len(sql) && (isDigit(sql[j]) || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' || sql[j] == '_') {
				j++
			}
			toks = append(toks, token{literal, "?"})
			out.WriteByte('?')
			i = j
		case wordByte(c):
			j := i
			for j < len(sql) && wordByte(sql[j]) {
				j++
			}
			i = appendWord(&toks, &out, sql, i, j)
		case c == '(' || c == ')' || c == ',' || c == ';':
			toks = append(toks, token{punct, string(c)})
			out.WriteByte(c)
			i++
		default:
			out.WriteByte(c)
			i++
		}
	}
	return toks, out.String()
}

// appendWord adds sql[i:j] as a word, joined with a preceding "schema." into
// one qualified name, and returns j.
func appendWord(toks *[]token, out *strings.Builder, sql string, i, j int) int {
	out.WriteString(sql[i:j])
	text := sql[i:j]
	if n := len(*toks); n > 0 && (*toks)[n-1].kind == word && strings.HasSuffix((*toks)[n-1].text, ".") {
		(*toks)[n-1].text += text
	} else {
		*toks = append(*toks, token{word, text})
	}
	// A dot right after a name qualifies the next one.
	if j < len(sql) && sql[j] == '.' {
		(*toks)[len(*toks)-1].text += "."
		out.WriteByte('.')
		j++
	}
	return j
}

// skipQuoted returns the index after the quoted text opening at sql[i];
// a doubled quote (and, in E” strings, a backslash) escapes.
func skipQuoted(sql string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(sql)
}

func prev(s string, i int) byte {
	if i == 0 {
		return ' '
	}
	return s[i-1]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func wordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c >= 0x80
}

// maxDescribed bounds the memo of describe. The statements are code
// constants, a few hundred at most, but some are generated (a parameter per
// key, chains of varying parts): a memo that outgrows this starts over.
const maxDescribed = 2048

var (
	descriptions sync.Map // SQL text -> *statement
	described    atomic.Int64
)

// describe is parse, memoised by text: tracing calls it for every
// statement, and parsing a pipeline's chained write costs tens of
// microseconds and hundreds of allocations.
func describe(sql string) *statement {
	if st, ok := descriptions.Load(sql); ok {
		return st.(*statement)
	}
	st := parse(sql)
	if described.Add(1) > maxDescribed {
		descriptions.Clear()
		described.Store(1)
	}
	descriptions.Store(sql, st)
	return st
}

// parse summarises sql the way the OpenTelemetry database conventions
// describe: "SELECT contacts", "INSERT outbox SELECT", "BEGIN".
func parse(sql string) *statement {
	toks, sanitized := lex(sql)
	var (
		parts, ops, tables []string
		start              = true // at the first word of a statement
		last               string // the previous token, upper-cased, when a word
		// calls tells, per open parenthesis, whether it is a function's: a
		// FROM inside extract(...) or substring(...) names no table.
		calls []bool
	)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != word {
			switch t.text {
			case ";":
				start = true
			case "(":
				calls = append(calls, last != "" && !opensSubquery[last])
			case ")":
				if len(calls) > 0 {
					calls = calls[:len(calls)-1]
				}
			}
			last = ""
			continue
		}
		prev, cur := last, strings.ToUpper(t.text)
		last = cur
		if start {
			start = false
			if !operations[cur] && cur != "WITH" {
				// BEGIN, COMMIT, SET, LISTEN...: the command is the summary.
				parts, ops = append(parts, cur), append(ops, cur)
				continue
			}
		}
		if len(calls) > 0 && calls[len(calls)-1] {
			continue
		}
		// FOR UPDATE locks rows and DO UPDATE resolves a conflict: neither is
		// an operation of its own.
		if cur == "UPDATE" && (prev == "DO" || prev == "FOR" || prev == "KEY") || cur == "DELETE" && prev == "ON" {
			continue
		}
		if operations[cur] {
			parts, ops = append(parts, cur), append(ops, cur)
		}
		if !targeting[cur] {
			continue
		}
		// The names this keyword introduces: one, or a FROM list.
		for {
			j := i + 1
			for j < len(toks) && toks[j].kind == word && (strings.EqualFold(toks[j].text, "ONLY") || strings.EqualFold(toks[j].text, "LATERAL")) {
				j++
			}
			if j >= len(toks) || toks[j].kind != word || notAlias[strings.ToUpper(toks[j].text)] ||
				cur != "INTO" && j+1 < len(toks) && toks[j+1].text == "(" {
				// A subquery, a function (unnest(...)) or no name at all.
				break
			}
			parts, tables = append(parts, toks[j].text), append(tables, toks[j].text)
			i, last = j, ""
			if cur != "FROM" {
				break
			}
			// Past an alias, a comma continues the FROM list.
			k := j + 1
			if k < len(toks) && toks[k].kind == word && strings.EqualFold(toks[k].text, "AS") {
				k++
			}
			if k < len(toks) && toks[k].kind == word && !notAlias[strings.ToUpper(toks[k].text)] {
				k++
			}
			if k >= len(toks) || toks[k].text != "," {
				break
			}
			i = k
		}
	}
	if sanitized == sql {
		sanitized = sql // no literal: the memo keeps one copy of the text
	}
	s := &statement{sanitized: sanitized}
	for _, p := range parts {
		if len(s.summary)+1+len(p) > maxSummary {
			break
		}
		if s.summary != "" {
			s.summary += " "
		}
		s.summary += p
	}
	if len(ops) == 1 {
		s.operation = ops[0]
		if len(tables) == 1 {
			s.collection = tables[0]
		}
	}
	s.attrs = append(s.attrs, semconv.DBQueryText(s.sanitized))
	if s.summary != "" {
		s.attrs = append(s.attrs, semconv.DBQuerySummary(s.summary))
	}
	if s.operation != "" {
		s.attrs = append(s.attrs, semconv.DBOperationName(s.operation))
	}
	if s.collection != "" {
		s.attrs = append(s.attrs, semconv.DBCollectionName(s.collection))
	}
	return s
}
