package fhir

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// MinPHILength is the shortest string PHIStrings returns. Shorter values
// (initials, a three-digit NPI, "Jo") match too much unrelated text for a
// scan to mean anything.
const MinPHILength = 4

// PHIStrings returns identifying strings of the patients in a bundle (or of
// a single Patient resource), for tests that scan stores, logs and messages
// for leaks. From every Patient it takes:
//
//   - each name as "given… family" and in full ("prefix given… family
//     suffix"), and name.text;
//   - the mother's maiden name extension, and the names of contacts;
//   - every identifier value (medical record number, SSN, driver's licence,
//     passport, and any other);
//   - every telecom value (phone, fax, email, ...), of the patient and
//     contacts;
//   - every address line, of the patient and contacts.
//
// Not included, because they occur legitimately elsewhere: single name
// parts, the resource id, dates (birth date), city, state and postal code.
// Strings shorter than MinPHILength runes are left out. The result is
// sorted and free of duplicates. Only Patient resources are read: the
// Practitioners and Organizations of a Synthea bundle are not the patient.
func PHIStrings(bundle []byte) ([]string, error) {
	rt, err := precheck(bundle)
	if err != nil {
		return nil, err
	}
	o, err := decodeObject(bundle)
	if err != nil {
		return nil, &Error{Problem: "not valid JSON"}
	}
	var patients []obj
	switch rt {
	case "Patient":
		patients = append(patients, o)
	case "Bundle":
		for _, e := range getList(o, "entry") {
			m, _ := e.(obj)
			if r := getObj(m, "resource"); getStr(r, "resourceType") == "Patient" {
				patients = append(patients, r)
			}
		}
	default:
		return nil, &Error{Path: "resourceType", Problem: "want Bundle or Patient, got " + rt}
	}
	set := map[string]bool{}
	add := func(s string) {
		s = strings.Join(strings.Fields(s), " ")
		if utf8.RuneCountInString(s) >= MinPHILength {
			set[s] = true
		}
	}
	addNames := func(names []any) {
		for _, n := range names {
			m, _ := n.(obj)
			add(getStr(m, "text"))
			given := strs(getList(m, "given"))
			family := getStr(m, "family")
			add(strings.Join(append(append([]string{}, given...), family), " "))
			full := append(append(strs(getList(m, "prefix")), given...), family)
			full = append(full, strs(getList(m, "suffix"))...)
			add(strings.Join(full, " "))
		}
	}
	addContact := func(m obj) {
		for _, t := range getList(m, "telecom") {
			tm, _ := t.(obj)
			add(getStr(tm, "value"))
		}
		var addrs []any
		switch a := m["address"].(type) {
		case obj:
			addrs = []any{a}
		case []any:
			addrs = a
		}
		for _, a := range addrs {
			am, _ := a.(obj)
			for _, l := range strs(getList(am, "line")) {
				add(l)
			}
			add(getStr(am, "text"))
		}
	}
	for _, p := range patients {
		addNames(getList(p, "name"))
		for _, id := range getList(p, "identifier") {
			m, _ := id.(obj)
			add(getStr(m, "value"))
		}
		addContact(p)
		for _, x := range getList(p, "extension") {
			m, _ := x.(obj)
			if strings.Contains(getStr(m, "url"), "mothersMaidenName") {
				add(getStr(m, "valueString"))
			}
		}
		for _, c := range getList(p, "contact") {
			m, _ := c.(obj)
			if n := getObj(m, "name"); n != nil {
				addNames([]any{n})
			}
			addContact(m)
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

func strs(l []any) []string {
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}
