package cli

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Value is the value of a flag: the same interface as the standard flag
// package's, so that any flag.Value fits.
type Value interface {
	String() string
	Set(string) error
}

// boolValue is a Value that needs no argument (--json, --json=false).
type boolValue interface {
	Value
	IsBoolFlag() bool
}

// Flag is one flag of a command: its names, its value, and what help,
// completion and the man page say about it.
type Flag struct {
	// Name is the long name, given as --name; "" when the flag has only
	// a short name.
	Name string
	// Short is the one-letter alias, given as -x; "" for none.
	Short string
	// Usage is the help text. A word in backquotes names the value in
	// the help (`USER[%PASSWORD]`), as with the standard flag package.
	Usage string
	// Arg is the value's placeholder in the help ("LEVEL"); "" for a
	// boolean flag.
	Arg string
	// Default is the default value shown in the help; "" shows none.
	Default string
	// Choices are the values shell completion offers.
	Choices []string
	// Files says that the value is a file name (completion offers files).
	Files bool
	// Group is the heading the flag is listed under in the help.
	Group string
	// Value holds the parsed value.
	Value Value

	count int
}

// IsBool reports whether the flag takes no argument.
func (f *Flag) IsBool() bool {
	b, ok := f.Value.(boolValue)
	return ok && b.IsBoolFlag()
}

// Spelling is how the help writes the flag: "--level", "-U" or "-k, --kerberos".
func (f *Flag) Spelling() string {
	switch {
	case f.Name == "":
		return "-" + f.Short
	case f.Short == "":
		return "--" + f.Name
	}
	return "-" + f.Short + ", --" + f.Name
}

// ref is the name used in messages: --name, or -x.
func (f *Flag) ref() string {
	if f.Name != "" {
		return "--" + f.Name
	}
	return "-" + f.Short
}

// ErrHelp is what Parse returns for -h, -help or --help.
var ErrHelp = errors.New("help requested")

// ParseError is a command line the parser refuses: an unknown flag, a
// missing or bad value.
type ParseError struct {
	Msg string
}

func (e *ParseError) Error() string { return e.Msg }

// FlagSet is the flags of one command. The zero value is not usable:
// NewFlagSet makes one.
type FlagSet struct {
	flags []*Flag
	long  map[string]*Flag
	short map[string]*Flag
	group string
}

// NewFlagSet returns an empty flag set.
func NewFlagSet() *FlagSet {
	return &FlagSet{long: map[string]*Flag{}, short: map[string]*Flag{}}
}

// Group makes the flags defined after it appear under heading in the help.
func (fs *FlagSet) Group(heading string) { fs.group = heading }

// Flags returns the flags in the order they were defined.
func (fs *FlagSet) Flags() []*Flag { return fs.flags }

// Lookup returns the flag with the long or short name, or nil.
func (fs *FlagSet) Lookup(name string) *Flag {
	if f := fs.long[name]; f != nil {
		return f
	}
	return fs.short[name]
}

// Count returns how many times the flag named name was given.
func (fs *FlagSet) Count(name string) int {
	if f := fs.Lookup(name); f != nil {
		return f.count
	}
	return 0
}

// Var defines a flag. names is the long name, the one-letter alias, or
// both separated by a comma ("kerberos,k"). Defining a name twice panics:
// it is a programming error.
func (fs *FlagSet) Var(v Value, names, usage string) *Flag {
	f := &Flag{Usage: usage, Value: v, Group: fs.group}
	for n := range strings.SplitSeq(names, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case len(n) == 1:
			f.Short = n
		default:
			f.Name = n
		}
	}
	if f.Name == "" && f.Short == "" {
		panic("cli: a flag without a name")
	}
	if fs.long[f.Name] != nil || fs.short[f.Short] != nil {
		panic("cli: flag " + names + " defined twice")
	}
	if f.Name != "" {
		fs.long[f.Name] = f
	}
	if f.Short != "" {
		fs.short[f.Short] = f
	}
	if !f.IsBool() {
		f.Arg = "VALUE"
		switch v := v.(type) {
		case *intValue, *uint32Value:
			f.Arg = "N"
		case *choiceValue:
			if c := strings.Join(v.choices, "|"); len(c) <= 24 {
				f.Arg = c
			}
		}
		if a, rest, ok := backquoted(usage); ok {
			f.Arg, f.Usage = a, rest
		}
		if d := v.String(); d != "" && d != "0" {
			f.Default = d
		}
	}
	fs.flags = append(fs.flags, f)
	return f
}

// backquoted finds `ARG` in usage and returns ARG and the usage without
// the quotes.
func backquoted(usage string) (arg, rest string, ok bool) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage, false
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage, false
	}
	arg = usage[i+1 : i+1+j]
	return arg, usage[:i] + arg + usage[i+1+j+1:], true
}

type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

// StringVar defines a string flag stored in *p, whose current value is
// the default.
func (fs *FlagSet) StringVar(p *string, names, usage string) *Flag {
	return fs.Var((*stringValue)(p), names, usage)
}

// String defines a string flag.
func (fs *FlagSet) String(names, def, usage string) *string {
	p := &def
	fs.StringVar(p, names, usage)
	return p
}

// File defines a string flag whose value is a file name.
func (fs *FlagSet) File(names, def, usage string) *string {
	p := &def
	fs.StringVar(p, names, usage).Files = true
	return p
}

type choiceValue struct {
	p       *string
	choices []string
}

func (c *choiceValue) Set(v string) error {
	if !slices.Contains(c.choices, v) {
		return fmt.Errorf("want %s, not %q", orList(c.choices), v)
	}
	*c.p = v
	return nil
}

func (c *choiceValue) String() string { return *c.p }

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// ChoiceVar defines a string flag stored in *p that takes one of
// choices; another value is a parse error. *p's current value is the
// default, which may be outside choices ("": not given).
func (fs *FlagSet) ChoiceVar(p *string, names string, choices []string, usage string) *Flag {
	f := fs.Var(&choiceValue{p, choices}, names, usage)
	f.Choices = choices
	return f
}

// Choice defines a string flag that takes one of choices.
func (fs *FlagSet) Choice(names, def string, choices []string, usage string) *string {
	p := &def
	fs.ChoiceVar(p, names, choices, usage)
	return p
}

type boolFlag bool

func (b *boolFlag) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, not %q", v)
	}
	*b = boolFlag(x)
	return nil
}
func (b *boolFlag) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolFlag) IsBoolFlag() bool { return true }

// BoolVar defines a flag stored in *p that takes no value (--json;
// --json=false turns it off).
func (fs *FlagSet) BoolVar(p *bool, names, usage string) *Flag {
	return fs.Var((*boolFlag)(p), names, usage)
}

// Bool defines a flag that takes no value.
func (fs *FlagSet) Bool(names, usage string) *bool {
	p := new(bool)
	fs.BoolVar(p, names, usage)
	return p
}

type intValue int

func (i *intValue) Set(v string) error {
	n, err := strconv.ParseInt(v, 0, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("want a whole number, not %q", v)
	}
	*i = intValue(n)
	return nil
}
func (i *intValue) String() string { return strconv.Itoa(int(*i)) }

// Int defines an integer flag.
func (fs *FlagSet) Int(names string, def int, usage string) *int {
	p := new(int)
	*p = def
	fs.Var((*intValue)(p), names, usage)
	return p
}

type float64Value float64

func (x *float64Value) Set(v string) error {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Errorf("want a number (such as 50 or 0.5), not %q", v)
	}
	*x = float64Value(n)
	return nil
}
func (x *float64Value) String() string { return strconv.FormatFloat(float64(*x), 'g', -1, 64) }

// Float64 defines a flag for a finite number (50, 0.5).
func (fs *FlagSet) Float64(names string, def float64, usage string) *float64 {
	p := new(float64)
	*p = def
	f := fs.Var((*float64Value)(p), names, usage)
	if f.Arg == "VALUE" {
		f.Arg = "N"
	}
	return p
}

type uint32Value uint32

func (u *uint32Value) Set(v string) error {
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return fmt.Errorf("want a whole number from 0 to 4294967295, not %q", v)
	}
	*u = uint32Value(n)
	return nil
}
func (u *uint32Value) String() string { return strconv.FormatUint(uint64(*u), 10) }

// Uint32 defines a flag for a number from 0 to 4294967295.
func (fs *FlagSet) Uint32(names string, def uint32, usage string) *uint32 {
	p := new(uint32)
	*p = def
	fs.Var((*uint32Value)(p), names, usage)
	return p
}

type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	x, err := ParseDuration(v)
	if err != nil {
		return err
	}
	*d = durationValue(x)
	return nil
}
func (d *durationValue) String() string { return FormatDuration(time.Duration(*d)) }

// DurationVar defines a flag stored in *p read by ParseDuration (90s, 2h,
// 7d, 1d12h); *p's current value is the default.
func (fs *FlagSet) DurationVar(p *time.Duration, names, usage string) *Flag {
	f := fs.Var((*durationValue)(p), names, usage)
	if f.Arg == "VALUE" {
		f.Arg = "DURATION"
	}
	return f
}

// Duration defines a flag read by ParseDuration.
func (fs *FlagSet) Duration(names string, def time.Duration, usage string) *time.Duration {
	p := &def
	fs.DurationVar(p, names, usage)
	return p
}

// Parse reads args: flags (--name VALUE, --name=VALUE, -x VALUE, -xVALUE,
// -x=VALUE; a single dash before a long name works too) and positional
// arguments in any order; everything after "--" is positional. It returns
// the positional arguments, ErrHelp for -h, -help or --help, or a
// *ParseError.
func (fs *FlagSet) Parse(args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, val, hasVal := strings.Cut(name, "=")
		f := fs.long[name]
		if f == nil && len(name) == 1 {
			f = fs.short[name]
		}
		if f == nil && !strings.HasPrefix(a, "--") && !hasVal && len(name) > 1 {
			// -Ualice: a short flag with its value attached.
			if s := fs.short[name[:1]]; s != nil && !s.IsBool() {
				f, val, hasVal = s, name[1:], true
			}
		}
		if f == nil {
			if name == "h" || name == "help" {
				return nil, ErrHelp
			}
			return nil, &ParseError{fmt.Sprintf("unknown flag %s%s", a[:len(a)-len(strings.TrimLeft(a, "-"))], name)}
		}
		switch {
		case f.IsBool() && !hasVal:
			val = "true"
		case !hasVal:
			if i+1 >= len(args) {
				return nil, &ParseError{fmt.Sprintf("%s needs a value (%s)", f.ref(), f.Arg)}
			}
			i++
			val = args[i]
		}
		if err := f.Value.Set(val); err != nil {
			return nil, &ParseError{fmt.Sprintf("%s: %v", f.ref(), err)}
		}
		f.count++
	}
	return pos, nil
}
