package session

import (
	"fmt"
	"strings"
)

// Class is the kind of caller an access decision is made for. Classes are
// ordered from least to most privileged; a caller belongs to the most
// privileged class it qualifies for.
type Class uint8

// The caller classes.
const (
	ClassAnonymous Class = iota // null session
	ClassGuest                  // logon mapped to the guest account
	ClassUser                   // any other authenticated user
	ClassOperator               // member of Server Operators
	ClassAdmin                  // member of Administrators (or Domain Admins, by SID)
	numClasses
)

// String returns the class name used in policy strings.
func (c Class) String() string {
	switch c {
	case ClassAnonymous:
		return "anonymous"
	case ClassGuest:
		return "guest"
	case ClassUser:
		return "user"
	case ClassOperator:
		return "operator"
	case ClassAdmin:
		return "admin"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// ClassOf returns the class of caller c.
func ClassOf(c Caller) Class {
	switch {
	case c.IsAnonymous():
		return ClassAnonymous
	case c.isAdmin():
		return ClassAdmin
	case c.isOperator():
		return ClassOperator
	case c.Guest:
		return ClassGuest
	}
	return ClassUser
}

// Op is an operation the policy rules on: enumeration at one level, or
// deletion.
type Op uint8

// The operations.
const (
	OpEnum0 Op = iota
	OpEnum1
	OpEnum2
	OpEnum10
	OpEnum502
	OpDelete
	numOps
)

// String returns the operation's name in policy strings: "0", "1", "2",
// "10", "502" or "del".
func (o Op) String() string {
	switch o {
	case OpEnum0:
		return "0"
	case OpEnum1:
		return "1"
	case OpEnum2:
		return "2"
	case OpEnum10:
		return "10"
	case OpEnum502:
		return "502"
	case OpDelete:
		return "del"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// EnumOp returns the operation for enumerating (or getting) at level l.
func EnumOp(l Level) (Op, bool) {
	switch l {
	case Level0:
		return OpEnum0, true
	case Level1:
		return OpEnum1, true
	case Level2:
		return OpEnum2, true
	case Level10:
		return OpEnum10, true
	case Level502:
		return OpEnum502, true
	}
	return 0, false
}

// Policy is the access table: for each operation, the set of caller classes
// allowed to perform it. The zero Policy allows nothing.
type Policy struct {
	name  string
	allow [numOps]uint8 // bit c set = Class c allowed
}

// Name returns the preset name ("modern", "legacy", "open") or "custom".
func (p Policy) Name() string {
	if p.name == "" {
		return "custom"
	}
	return p.name
}

// Allowed reports whether callers of class c may perform op.
func (p Policy) Allowed(op Op, c Class) bool {
	if op >= numOps || c >= numClasses {
		return false
	}
	return p.allow[op]&(1<<c) != 0
}

// Allow returns a copy of p that also lets the given classes perform op.
// The copy is a custom policy.
func (p Policy) Allow(op Op, classes ...Class) Policy {
	for _, c := range classes {
		if op < numOps && c < numClasses {
			p.allow[op] |= 1 << c
		}
	}
	p.name = ""
	return p
}

// AllowFrom returns a copy of p in which op is allowed for class min and
// every more privileged class, and refused to the others.
func (p Policy) AllowFrom(op Op, min Class) Policy {
	if op >= numOps {
		return p
	}
	p.allow[op] = 0
	for c := min; c < numClasses; c++ {
		p.allow[op] |= 1 << c
	}
	p.name = ""
	return p
}

func presetFrom(name string, mins [numOps]Class) Policy {
	var p Policy
	for op := Op(0); op < numOps; op++ {
		p = p.AllowFrom(op, mins[op])
	}
	p.name = name
	return p
}

// PolicyModern is what Windows Server 2019 and later (and Windows 10 1607
// and later) enforce by default: every level and deletion need membership
// of Administrators or Server Operators.
func PolicyModern() Policy {
	return presetFrom("modern", [numOps]Class{ClassOperator, ClassOperator, ClassOperator, ClassOperator, ClassOperator, ClassOperator})
}

// PolicyLegacy is the older Windows default: levels 0 and 10 for any
// authenticated caller that is not a guest; levels 1, 2, 502 and deletion
// for Administrators and Server Operators.
func PolicyLegacy() Policy {
	return presetFrom("legacy", [numOps]Class{ClassUser, ClassOperator, ClassOperator, ClassUser, ClassOperator, ClassOperator})
}

// PolicyOpen allows everything to everyone, deletion and anonymous callers
// included. It is meant for laboratories and tests.
func PolicyOpen() Policy {
	return presetFrom("open", [numOps]Class{})
}

// ParsePolicy accepts a preset name ("modern", "legacy", "open") or a custom
// rule list: semicolon-separated rules "OPS=CLASS", where OPS is a
// comma-separated list of 0, 1, 2, 10, 502 and del, and CLASS the least
// privileged class allowed (anonymous, guest, user, operator, admin) or
// "none", or an explicit set of classes joined by "|" (guest|admin).
// Operations not named are refused to everyone. Example:
//
//	0,10=user;1,2,502,del=operator
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "modern":
		return PolicyModern(), nil
	case "legacy":
		return PolicyLegacy(), nil
	case "open":
		return PolicyOpen(), nil
	}
	var p Policy
	seen := 0
	for _, rule := range strings.Split(s, ";") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		ops, cls, ok := strings.Cut(rule, "=")
		if !ok {
			return Policy{}, fmt.Errorf("policy rule %q: want OPS=CLASS (or a preset: modern, legacy, open)", rule)
		}
		bits, err := parseClasses(strings.TrimSpace(cls))
		if err != nil {
			return Policy{}, fmt.Errorf("policy rule %q: %w", rule, err)
		}
		for _, o := range strings.Split(ops, ",") {
			op, err := parseOp(strings.TrimSpace(o))
			if err != nil {
				return Policy{}, fmt.Errorf("policy rule %q: %w", rule, err)
			}
			p.allow[op] = bits
			seen++
		}
	}
	if seen == 0 {
		return Policy{}, fmt.Errorf("policy %q: not a preset (modern, legacy, open) and no rules", s)
	}
	p.name = ""
	return p, nil
}

func parseOp(s string) (Op, error) {
	for op := Op(0); op < numOps; op++ {
		if strings.EqualFold(s, op.String()) {
			return op, nil
		}
	}
	return 0, fmt.Errorf("unknown operation %q (want 0, 1, 2, 10, 502 or del)", s)
}

// parseClasses reads "none", a single class (that class and every more
// privileged one), or an explicit set "guest|admin".
func parseClasses(s string) (uint8, error) {
	if strings.EqualFold(s, "none") {
		return 0, nil
	}
	if strings.Contains(s, "|") {
		var bits uint8
		for _, name := range strings.Split(s, "|") {
			c, err := parseClass(strings.TrimSpace(name))
			if err != nil {
				return 0, err
			}
			bits |= 1 << c
		}
		return bits, nil
	}
	min, err := parseClass(s)
	if err != nil {
		return 0, err
	}
	var bits uint8
	for c := min; c < numClasses; c++ {
		bits |= 1 << c
	}
	return bits, nil
}

func parseClass(s string) (Class, error) {
	for c := Class(0); c < numClasses; c++ {
		if strings.EqualFold(s, c.String()) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown class %q (want anonymous, guest, user, operator, admin or none)", s)
}

// String renders p in the custom rule form ParsePolicy accepts (a preset
// renders as its name).
func (p Policy) String() string {
	if p.name != "" {
		return p.name
	}
	var rules []string
	for op := Op(0); op < numOps; op++ {
		rules = append(rules, op.String()+"="+p.describe(op))
	}
	return strings.Join(rules, ";")
}

func (p Policy) describe(op Op) string {
	bits := p.allow[op]
	if bits == 0 {
		return "none"
	}
	for min := Class(0); min < numClasses; min++ {
		want := uint8(0)
		for c := min; c < numClasses; c++ {
			want |= 1 << c
		}
		if bits == want {
			return min.String()
		}
	}
	var names []string
	for c := Class(0); c < numClasses; c++ {
		if bits&(1<<c) != 0 {
			names = append(names, c.String())
		}
	}
	return strings.Join(names, "|")
}
