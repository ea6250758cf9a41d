// Command composecheck checks a compose file the way `docker compose config` would, without
// a Docker engine, and then checks what the engine would only find out at `up` time: that
// every file the file points at exists.
//
// It loads the file with compose-go, the compose specification's reference loader (the one
// `docker compose` itself uses), which interpolates `${VAR}` references, validates the
// result against the compose JSON schema (an unknown or misspelt key is an error) and checks
// its consistency (a `depends_on` or a secret that names nothing is an error). Then it
// checks, relative to the compose file's directory as compose resolves them:
//
//   - every bind-mounted host path exists (for a missing one, `docker compose up` silently
//     creates an empty directory in its place, and the container then fails on a directory
//     where it expected a file);
//   - every build context is a directory, and its Dockerfile exists;
//   - every file-backed secret and config exists.
//
// On success it prints the normalised project (what `docker compose config` prints) on
// standard output and a one-line summary on standard error, and exits 0. On failure it
// prints every problem found on standard error and exits 1; a usage error exits 2.
//
// Usage:
//
//	composecheck [flags] docker/compose.yaml
//
//	-placeholders        give every variable the file references, that has no default and is
//	                     not set, a placeholder value (so `${PASSWORD:?set PASSWORD}` passes)
//	-env NAME=VALUE      set a variable for interpolation (repeatable; wins over the process
//	                     environment)
//	-allow-missing DIR   a host path under DIR (relative to the compose file's directory) may
//	                     be missing: files the operator creates before `up`, such as
//	                     git-ignored secrets; each is listed as a note (repeatable)
//	-quiet               do not print the normalised project
//
// Variables come from, in order of precedence: -env, the process environment, the `.env`
// file next to the compose file (these three as for `docker compose`), then -placeholders.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// placeholderValue is what -placeholders gives an unset variable.
const placeholderValue = "composecheck-placeholder"

// listFlag collects the values of a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(value string) error {
	*l = append(*l, value)
	return nil
}

// options are the parsed command line.
type options struct {
	composeFile  string
	placeholders bool
	env          []string
	allowMissing []string
	quiet        bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "composecheck: %v\n", err)
		return 2
	}
	project, err := load(opts)
	if err != nil {
		fmt.Fprintf(stderr, "composecheck: error: %s: %v\n", opts.composeFile, err)
		return 1
	}
	problems, notes := checkPaths(project, opts.allowMissing)
	for _, note := range notes {
		fmt.Fprintf(stderr, "composecheck: note: %s\n", note)
	}
	if len(problems) > 0 {
		for _, problem := range problems {
			fmt.Fprintf(stderr, "composecheck: error: %s: %s\n", opts.composeFile, problem)
		}
		return 1
	}
	if !opts.quiet {
		out, err := project.MarshalYAML()
		if err != nil {
			fmt.Fprintf(stderr, "composecheck: error: cannot print the project: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(out)
	}
	fmt.Fprintf(stderr, "composecheck: %s is valid: project %q, %d services\n",
		opts.composeFile, project.Name, len(project.Services))
	return 0
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var opts options
	var env, allowMissing listFlag
	flags := flag.NewFlagSet("composecheck", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.BoolVar(&opts.placeholders, "placeholders", false,
		"give unset variables without a default a placeholder value")
	flags.Var(&env, "env", "NAME=VALUE for interpolation (repeatable)")
	flags.Var(&allowMissing, "allow-missing",
		"directory, relative to the compose file, whose files may be missing (repeatable)")
	flags.BoolVar(&opts.quiet, "quiet", false, "do not print the normalised project")
	if err := flags.Parse(args); err != nil {
		return opts, err
	}
	if flags.NArg() != 1 {
		return opts, errors.New("usage: composecheck [flags] COMPOSE_FILE (see -h)")
	}
	for _, pair := range env {
		if name, _, ok := strings.Cut(pair, "="); !ok || name == "" {
			return opts, fmt.Errorf("-env must be NAME=VALUE; got %q", pair)
		}
	}
	opts.composeFile, opts.env, opts.allowMissing = flags.Arg(0), env, allowMissing
	return opts, nil
}

// load reads, interpolates, validates and normalises the compose file.
func load(opts options) (*types.Project, error) {
	var placeholders []string
	if opts.placeholders {
		content, err := os.ReadFile(opts.composeFile)
		if err != nil {
			return nil, err
		}
		if placeholders, err = variablesWithoutDefault(content); err != nil {
			return nil, err
		}
	}
	// Each source only fills what the ones before it left unset.
	projectOptions, err := cli.NewProjectOptions(
		[]string{opts.composeFile},
		cli.WithWorkingDirectory(filepath.Dir(opts.composeFile)),
		cli.WithEnv(opts.env),
		cli.WithOsEnv,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		withPlaceholders(placeholders),
	)
	if err != nil {
		return nil, err
	}
	return projectOptions.LoadProject(context.Background())
}

// variablesWithoutDefault returns the names of the variables the compose file references
// without a default value (`${NAME}`, `${NAME:?message}`, not `${NAME:-default}`).
func variablesWithoutDefault(content []byte) ([]string, error) {
	var model map[string]any
	if err := yaml.Unmarshal(content, &model); err != nil {
		return nil, err
	}
	var names []string
	for name, variable := range template.ExtractVariables(model, template.DefaultPattern) {
		if variable.DefaultValue == "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// withPlaceholders gives each named variable that is still unset the placeholder value.
func withPlaceholders(names []string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		for _, name := range names {
			if _, set := o.Environment[name]; !set {
				o.Environment[name] = placeholderValue
			}
		}
		return nil
	}
}

// checkPaths returns the missing files the project points at (problems), and those under an
// -allow-missing directory (notes), each naming the service or resource and the path.
func checkPaths(project *types.Project, allowMissing []string) (problems, notes []string) {
	allowed := make([]string, len(allowMissing))
	for i, dir := range allowMissing {
		allowed[i] = absolute(project.WorkingDir, dir)
	}
	report := func(owner, what, path string, wantDir bool) {
		info, err := os.Stat(path)
		switch {
		case err == nil && wantDir && !info.IsDir():
			problems = append(problems, fmt.Sprintf("%s: %s %s is not a directory",
				owner, what, display(project.WorkingDir, path)))
		case err == nil:
		case slices.ContainsFunc(allowed, func(dir string) bool { return within(dir, path) }):
			notes = append(notes, fmt.Sprintf("%s: %s %s must be created before `docker compose up`",
				owner, what, display(project.WorkingDir, path)))
		default:
			problems = append(problems, fmt.Sprintf("%s: %s %s does not exist",
				owner, what, display(project.WorkingDir, path)))
		}
	}

	for _, name := range slices.Sorted(maps.Keys(project.Services)) {
		service := project.Services[name]
		owner := fmt.Sprintf("service %q", name)
		if build := service.Build; build != nil && !isRemote(build.Context) {
			context := absolute(project.WorkingDir, build.Context)
			report(owner, "build context", context, true)
			if build.DockerfileInline == "" {
				dockerfile := build.Dockerfile
				if dockerfile == "" {
					dockerfile = "Dockerfile"
				}
				report(owner, "Dockerfile", absolute(context, dockerfile), false)
			}
		}
		for _, volume := range service.Volumes {
			if volume.Type == types.VolumeTypeBind {
				report(owner, "bind mount source", absolute(project.WorkingDir, volume.Source), false)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(project.Secrets)) {
		if file := project.Secrets[name].File; file != "" {
			report(fmt.Sprintf("secret %q", name), "file", absolute(project.WorkingDir, file), false)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(project.Configs)) {
		if file := project.Configs[name].File; file != "" {
			report(fmt.Sprintf("config %q", name), "file", absolute(project.WorkingDir, file), false)
		}
	}
	return problems, notes
}

// isRemote reports whether a build context is a URL (git repository, tarball) rather than a
// directory.
func isRemote(context string) bool {
	return strings.Contains(context, "://") || strings.HasPrefix(context, "git@")
}

func absolute(base, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(base, path)
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// display gives path relative to the compose file's directory, as the file writes it.
func display(base, path string) string {
	rel, err := filepath.Rel(base, path)
	switch {
	case err != nil:
		return path
	case rel == ".." || strings.HasPrefix(rel, "../"):
		return rel
	default:
		return "./" + rel
	}
}
