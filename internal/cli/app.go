package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ExitUsage is the exit code of a command line the parser refuses.
const ExitUsage = 1

// ExitCode is one line of an exit code table.
type ExitCode struct {
	Code    int
	Meaning string
}

// Action runs a command whose flags are parsed.
type Action func(ctx context.Context, inv *Invocation) int

// Command is one subcommand. Define declares its flags on fs and returns
// the action that reads them; it is also called, with the action
// discarded, to render help, completion and the man page, so it must do
// nothing else.
type Command struct {
	// Name is the word after the program name.
	Name string
	// Summary is one line for the command list.
	Summary string
	// Args is the synopsis of the positional arguments ("[SERVER]"), ""
	// for none (or, with Subcommands, for the synopsis made of them).
	Args string
	// MaxArgs is how many positional arguments the parser lets through
	// (more are a usage error); negative lets any number through, for the
	// action to judge. It is not used when Subcommands are set.
	MaxArgs int
	// Subcommands, when set, are the words the first positional argument
	// may be; none at all is allowed too (the action decides what that
	// means). The parser refuses another word and a wrong number of
	// arguments after it, and completion offers the words.
	Subcommands []Subcommand
	// Help is the description: paragraphs separated by blank lines,
	// printed as written.
	Help string
	// Examples are command lines, one per entry, with an optional
	// comment after two spaces and "#".
	Examples []string
	// ExitCodes are the codes the command can exit with.
	ExitCodes []ExitCode
	// Define declares the flags and returns the action.
	Define func(fs *FlagSet) Action
}

// Subcommand is a word that may follow a command's name.
type Subcommand struct {
	// Name is the word.
	Name string
	// Summary is one line for completion menus.
	Summary string
	// Args is the synopsis of the positional arguments that follow the
	// word ("FILE"), "" for none.
	Args string
	// NArgs is how many positional arguments follow the word, exactly.
	NArgs int
}

// subcommand returns c's subcommand called name, or nil.
func (c *Command) subcommand(name string) *Subcommand {
	for i := range c.Subcommands {
		if c.Subcommands[i].Name == name {
			return &c.Subcommands[i]
		}
	}
	return nil
}

// checkSubcommand judges the positional arguments pos of c, which has
// Subcommands.
func (c *Command) checkSubcommand(pos []string) error {
	if len(pos) == 0 {
		return nil
	}
	sub := c.subcommand(pos[0])
	if sub == nil {
		var names []string
		for _, s := range c.Subcommands {
			names = append(names, s.Name)
		}
		return fmt.Errorf("unknown subcommand %q: want %s", pos[0], orList(names))
	}
	switch n := len(pos) - 1; {
	case n > sub.NArgs:
		return fmt.Errorf("unexpected argument %q after %q", pos[1+sub.NArgs], sub.Name)
	case n < sub.NArgs:
		return fmt.Errorf("%s takes %s", sub.Name, sub.Args)
	}
	return nil
}

// Invocation is what an action gets besides the context.
type Invocation struct {
	// App and Command are the program and the command being run.
	App     *App
	Command *Command
	// Args are the positional arguments.
	Args []string
	// Flags are the parsed flags (FlagSet.Count says what was given).
	Flags          *FlagSet
	Stdout, Stderr io.Writer
}

// Usagef prints "PROG CMD: message" on stderr and returns ExitUsage.
func (inv *Invocation) Usagef(format string, a ...any) int {
	fmt.Fprintf(inv.Stderr, "%s %s: %s\n", inv.App.Name, inv.Command.Name, fmt.Sprintf(format, a...))
	return ExitUsage
}

// App is a program made of commands.
type App struct {
	// Name is the program name ("netsess").
	Name string
	// Summary is the first paragraph of the top-level help and the man
	// page's NAME line.
	Summary string
	// Overview follows the command list in the top-level help.
	Overview string
	// Version is printed in the man page header.
	Version string
	// Commands are the program's commands, in the order the help lists
	// them; App adds help, completion and man.
	Commands []*Command
	// ExitCodes is the table the top-level help and the man page print.
	ExitCodes []ExitCode
}

// all returns the commands with the built-in ones.
func (a *App) all() []*Command {
	return append(append([]*Command(nil), a.Commands...), a.builtins()...)
}

// Find returns the command called name, or nil.
func (a *App) Find(name string) *Command {
	for _, c := range a.all() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Run runs the command line args (without the program name) and returns
// the exit code.
func (a *App) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		a.writeUsage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		a.writeUsage(stdout)
		return 0
	case "-version", "--version":
		if c := a.Find("version"); c != nil {
			return a.runCommand(ctx, c, args[1:], stdout, stderr)
		}
	}
	c := a.Find(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q\nsee '%s --help'\n", a.Name, args[0], a.Name)
		return ExitUsage
	}
	return a.runCommand(ctx, c, args[1:], stdout, stderr)
}

func (a *App) runCommand(ctx context.Context, c *Command, args []string, stdout, stderr io.Writer) int {
	fs := NewFlagSet()
	act := c.Define(fs)
	pos, err := fs.Parse(args)
	switch {
	case errors.Is(err, ErrHelp):
		a.WriteHelp(stdout, c)
		return 0
	case err == nil && len(c.Subcommands) > 0:
		err = c.checkSubcommand(pos)
	case err == nil && c.MaxArgs >= 0 && len(pos) > c.MaxArgs:
		if c.MaxArgs == 0 {
			err = fmt.Errorf("unexpected argument %q (%s %s takes no arguments, only flags)", pos[0], a.Name, c.Name)
		} else {
			err = fmt.Errorf("unexpected argument %q (%s %s takes %s)", pos[c.MaxArgs], a.Name, c.Name, c.Args)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\nsee '%s %s --help'\n", a.Name, c.Name, err, a.Name, c.Name)
		return ExitUsage
	}
	return act(ctx, &Invocation{App: a, Command: c, Args: pos, Flags: fs, Stdout: stdout, Stderr: stderr})
}

// FlagsOf returns the flags c defines.
func FlagsOf(c *Command) []*Flag {
	fs := NewFlagSet()
	c.Define(fs)
	return fs.Flags()
}

// Synopsis is the usage line of c: "PROG CMD [flags] ARGS".
func (a *App) Synopsis(c *Command) string {
	s := a.Name + " " + c.Name
	if len(FlagsOf(c)) > 0 {
		s += " [flags]"
	}
	if args := c.synopsisArgs(); args != "" {
		s += " " + args
	}
	return s
}

// synopsisArgs is Args, or one made of the Subcommands:
// "[a | b FILE]".
func (c *Command) synopsisArgs() string {
	if c.Args != "" || len(c.Subcommands) == 0 {
		return c.Args
	}
	var alts []string
	for _, s := range c.Subcommands {
		alts = append(alts, strings.TrimSpace(s.Name+" "+s.Args))
	}
	return "[" + strings.Join(alts, " | ") + "]"
}

func (a *App) writeUsage(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s - %s\n\nUsage:\n  %s <command> [flags] [arguments]\n\nCommands:\n", a.Name, a.Summary, a.Name)
	width := 0
	for _, c := range a.all() {
		width = max(width, len(c.Name))
	}
	for _, c := range a.all() {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(&b, "\nRun \"%s help <command>\" or \"%s <command> --help\" for a command's flags.\n", a.Name, a.Name)
	if a.Overview != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(a.Overview, "\n"))
	}
	writeExitCodes(&b, "Exit codes (each command's help says which apply):", a.ExitCodes)
	io.WriteString(w, b.String())
}

func writeExitCodes(b *strings.Builder, title string, codes []ExitCode) {
	if len(codes) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n", title)
	for _, e := range codes {
		lines := wrap(e.Meaning, 72)
		fmt.Fprintf(b, "  %-4d %s\n", e.Code, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(b, "       %s\n", l)
		}
	}
}

// WriteHelp writes the help of c: synopsis, description, flags by group,
// examples and exit codes.
func (a *App) WriteHelp(w io.Writer, c *Command) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n", a.Synopsis(c))
	if c.Help != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(c.Help, "\n"))
	}
	flags := FlagsOf(c)
	var groups []string
	for _, f := range flags {
		if !containsString(groups, f.Group) {
			groups = append(groups, f.Group)
		}
	}
	for _, g := range groups {
		title := "Flags"
		if g != "" {
			title = g
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, f := range flags {
			if f.Group != g {
				continue
			}
			head := "  " + f.Spelling()
			if f.Short == "" {
				head = "      --" + f.Name
			}
			if !f.IsBool() {
				head += " " + f.Arg
			}
			b.WriteString(head + "\n")
			text := f.Usage
			if f.Default != "" {
				text += " (default " + f.Default + ")"
			}
			for _, l := range wrap(text, 70) {
				fmt.Fprintf(&b, "        %s\n", l)
			}
		}
	}
	if len(c.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range c.Examples {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	writeExitCodes(&b, "Exit codes:", c.ExitCodes)
	io.WriteString(w, b.String())
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// wrap splits text into lines of at most width bytes at spaces (a longer
// word stays whole).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			lines = append(lines, line)
			line = w
		default:
			line += " " + w
		}
	}
	return append(lines, line)
}

// builtins are the commands every App has: help, completion and man.
func (a *App) builtins() []*Command {
	return []*Command{
		{
			Name:    "help",
			Summary: "show help for " + a.Name + " or one of its commands",
			Args:    "[COMMAND]",
			MaxArgs: 1,
			Help:    "Prints the list of commands, or the help of COMMAND (the same as \"" + a.Name + " COMMAND --help\").",
			ExitCodes: []ExitCode{
				{Code: 0, Meaning: "the help was printed"},
				{Code: ExitUsage, Meaning: "no such command"},
			},
			Define: func(fs *FlagSet) Action {
				return func(ctx context.Context, inv *Invocation) int {
					if len(inv.Args) == 0 {
						a.writeUsage(inv.Stdout)
						return 0
					}
					c := a.Find(inv.Args[0])
					if c == nil {
						return inv.Usagef("unknown command %q\nsee '%s --help'", inv.Args[0], a.Name)
					}
					a.WriteHelp(inv.Stdout, c)
					return 0
				}
			},
		},
		{
			Name:    "completion",
			Summary: "print a shell completion script (bash, zsh or fish)",
			Args:    "SHELL",
			MaxArgs: 1,
			Help: "Prints a completion script for SHELL, generated from the flags of every command.\n\n" +
				"  bash: " + a.Name + " completion bash > /etc/bash_completion.d/" + a.Name + "\n" +
				"  zsh:  " + a.Name + " completion zsh > \"${fpath[1]}/_" + a.Name + "\"\n" +
				"  fish: " + a.Name + " completion fish > ~/.config/fish/completions/" + a.Name + ".fish",
			ExitCodes: []ExitCode{
				{Code: 0, Meaning: "the script was printed"},
				{Code: ExitUsage, Meaning: "no shell, or one other than bash, zsh and fish"},
			},
			Define: func(fs *FlagSet) Action {
				return func(ctx context.Context, inv *Invocation) int {
					if len(inv.Args) == 0 {
						return inv.Usagef("name the shell: bash, zsh or fish")
					}
					switch inv.Args[0] {
					case "bash":
						a.WriteBash(inv.Stdout)
					case "zsh":
						a.WriteZsh(inv.Stdout)
					case "fish":
						a.WriteFish(inv.Stdout)
					default:
						return inv.Usagef("no completion for %q: want bash, zsh or fish", inv.Args[0])
					}
					return 0
				}
			},
		},
		{
			Name:    "man",
			Summary: "print the manual page (roff)",
			Help:    "Prints the manual page in roff, generated from the help of every command: " + a.Name + " man | man -l -",
			ExitCodes: []ExitCode{
				{Code: 0, Meaning: "the page was printed"},
				{Code: ExitUsage, Meaning: "usage error"},
			},
			Define: func(fs *FlagSet) Action {
				return func(ctx context.Context, inv *Invocation) int {
					a.WriteMan(inv.Stdout)
					return 0
				}
			},
		},
	}
}
