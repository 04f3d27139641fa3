package domain

import "strings"

// formulaStarts are the characters that make a spreadsheet read a cell as
// a formula (OWASP's CSV injection guidance): = + - @, tab and CR.
const formulaStarts = "=+-@\t\r"

// DefuseFormula is a cell as a spreadsheet export writes it: a value that a
// spreadsheet would run as a formula (=HYPERLINK(…), +cmd|…, @SUM(…), -2+3,
// and a phone in E.164, +7…, which Excel would turn into a number) gets a
// leading apostrophe, which spreadsheets show as text and do not display.
// A value that already starts with apostrophes before such a character
// gets one more, so that RestoreFormula gives back every value exactly.
func DefuseFormula(cell string) string {
	rest := strings.TrimLeft(cell, "'")
	if rest != "" && strings.IndexByte(formulaStarts, rest[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// RestoreFormula undoes DefuseFormula for an import: it takes one
// apostrophe off a cell that starts with apostrophes and then one of the
// formula characters, and leaves any other cell alone.
func RestoreFormula(cell string) string {
	if len(cell) < 2 || cell[0] != '\'' {
		return cell
	}
	rest := strings.TrimLeft(cell, "'")
	if rest != "" && strings.IndexByte(formulaStarts, rest[0]) >= 0 {
		return cell[1:]
	}
	return cell
}
