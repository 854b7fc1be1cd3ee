package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func miscCommands() []command {
	return []command{
		{name: "version", usage: "[--json]", summary: "print the version of datomspace, its source revision and Go", run: cmdVersion},
	}
}

// versionInfo is what `version` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func cmdVersion(ctx context.Context, e *env, args []string) error {
	f := newFlags("version", e).withJSON()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("version takes no arguments")
	}
	v := versionInfo{Version: "(devel)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Version, v.Go = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if *f.json {
		return printJSON(e.stdout, v)
	}
	fmt.Fprintf(e.stdout, "datomspace %s", v.Version)
	if v.Revision != "" {
		fmt.Fprintf(e.stdout, " (%.12s", v.Revision)
		if v.Modified {
			fmt.Fprint(e.stdout, ", modified")
		}
		fmt.Fprint(e.stdout, ")")
	}
	fmt.Fprintf(e.stdout, " %s\n", v.Go)
	return nil
}
