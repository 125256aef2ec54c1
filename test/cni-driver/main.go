// cni-driver calls CNI plugins the way container runtimes do, through the reference CNI library
// (libcni, github.com/containernetworking/cni, Debian's golang-github-appc-cni-dev 1.1.2). Tests use
// it to drive nsnet-cni (and the reference plugins) exactly as containerd or CRI-O would.
//
//	cni-driver <add|check|del|gc|status|version> --conflist FILE --plugin-dir DIR[:DIR]
//	    [--netns PATH] [--id CONTAINERID] [--ifname eth0] [--cache-dir DIR]
//	    [--args 'K=V;K2=V2'] [--cap '{"portMappings":[...]}'] [--valid 'id/ifname,id2/ifname2']
//	    [--type PLUGIN] [--trace FILE] [--timeout 60s] [--force] [--skip-stale-del] [--bare-env]
//
// add/check/del are libcni's AddNetworkList/CheckNetworkList/DelNetworkList. The result cache
// lives in --cache-dir (required for them and for gc: never /var/lib/cni).
//
// libcni 1.1.2 predates CNI spec 1.1.0, so gc and status follow libcni 1.2's GCNetworkList and
// GetStatusNetworkList, sending the commands through libcni's pkg/invoke:
//
//   - gc: unless the list says "disableGC": true, first a libcni DEL for every attachment of this
//     network in the cache that is not in --valid (skip with --skip-stale-del), then, for each
//     plugin in list order, CNI_COMMAND=GC with the plugin's config plus "name", "cniVersion" and
//     "cni.dev/valid-attachments": [{"containerID": ..., "ifname": ...}] (also under
//     "cni.dev/attachments", the key the 1.1.0 spec text first used; libcni sends both).
//   - status: each plugin in list order gets CNI_COMMAND=STATUS with its config plus "name" and
//     "cniVersion"; the first error stops.
//
// Both send no container: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_ARGS are set but empty,
// as libcni does (--bare-env leaves them out altogether). As in libcni, the GC and STATUS
// commands are only sent when the list's cniVersion is at least 1.1.0 (--force sends them anyway).
//
// version prints {"TYPE": {"cniVersion": ..., "supportedVersions": [...]}, ...} for --type, or for
// every plugin of the list (and the IPAM plugins they name). libcni sends {"cniVersion":"1.0.0"}.
//
// cniVersion 1.1.0 and libcni 1.1.2: add runs the plugins but then fails with `unsupported CNI
// result version "1.1.0"` (nothing cached); check and del with a 1.1.0 list fail before any plugin
// runs when a cached result exists ("no converter for CNI result version 1.0.0 to 1.1.0"). Use 1.0.0
// lists for add/check/del, a 1.1.0 list of the same name for gc/status. The 1.0.0 result type
// drops fields 1.1.0 added (interface/route mtu, route table/scope, ...), also from prevResult.
//
// Success: add prints the result JSON on stdout, the others print nothing (notes go to stderr).
// Failure: exit 1; the last line of stderr is one JSON object per error:
// {"code":N,"msg":"...","details":"...","error":"<libcni's full message>"} for an error the plugin
// returned (a *types.Error), {"msg":"...","error":"..."} (no code) for anything else. Usage: exit 2.
// A plugin's own stderr output passes through to stderr, as libcni does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

type options struct {
	command      string
	conflist     string
	pluginDir    string
	netns        string
	id           string
	ifname       string
	cacheDir     string
	args         string
	capJSON      string
	valid        string
	pluginType   string
	trace        string
	timeout      time.Duration
	force        bool
	skipStaleDel bool
	bareEnv      bool
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	errs := run(os.Args[1:])
	if len(errs) == 0 {
		return
	}
	code := 1
	for _, err := range errs {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "cni-driver: %s\nusage: cni-driver <add|check|del|gc|status|version> --conflist FILE --plugin-dir DIR[:DIR] [flags]\n", ue.msg)
			code = 2
			continue
		}
		printError(err)
	}
	os.Exit(code)
}

// printError writes one JSON line: the plugin's error fields when the plugin returned one.
func printError(err error) {
	var out []byte
	var te *types.Error
	if errors.As(err, &te) {
		out, _ = json.Marshal(struct {
			Code    uint   `json:"code"`
			Msg     string `json:"msg"`
			Details string `json:"details"`
			Error   string `json:"error"`
		}{te.Code, te.Msg, te.Details, err.Error()})
	} else {
		out, _ = json.Marshal(struct {
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}{err.Error(), err.Error()})
	}
	fmt.Fprintln(os.Stderr, string(out))
}

func note(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "cni-driver: "+format+"\n", a...)
}

func parseFlags(argv []string) (*options, error) {
	if len(argv) == 0 {
		return nil, usageError{"missing command"}
	}
	o := &options{command: argv[0]}
	switch o.command {
	case "add", "check", "del", "gc", "status", "version":
	default:
		return nil, usageError{fmt.Sprintf("unknown command %q", o.command)}
	}
	fs := flag.NewFlagSet("cni-driver "+o.command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.conflist, "conflist", "", "network configuration list file")
	fs.StringVar(&o.pluginDir, "plugin-dir", "", "plugin directories, ':'-separated (CNI_PATH)")
	fs.StringVar(&o.netns, "netns", "", "container network namespace path (CNI_NETNS)")
	fs.StringVar(&o.id, "id", "", "container ID (CNI_CONTAINERID)")
	fs.StringVar(&o.ifname, "ifname", "eth0", "interface name in the container (CNI_IFNAME)")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "libcni result cache directory")
	fs.StringVar(&o.args, "args", "", "CNI_ARGS, 'K=V;K2=V2'")
	fs.StringVar(&o.capJSON, "cap", "", "capability arguments, a JSON object")
	fs.StringVar(&o.valid, "valid", "", "gc: valid attachments, 'id/ifname,id2/ifname2'")
	fs.StringVar(&o.pluginType, "type", "", "version: the plugin to ask (default: the list's plugins)")
	fs.StringVar(&o.trace, "trace", "", "append one JSON line per plugin invocation to this file")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "overall deadline")
	fs.BoolVar(&o.force, "force", false, "gc/status: send GC/STATUS even when cniVersion < 1.1.0")
	fs.BoolVar(&o.skipStaleDel, "skip-stale-del", false, "gc: do not DEL cached attachments missing from --valid")
	fs.BoolVar(&o.bareEnv, "bare-env", false, "gc/status: leave CNI_CONTAINERID/NETNS/IFNAME/ARGS out instead of empty")
	if err := fs.Parse(argv[1:]); err != nil {
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if o.pluginDir == "" {
		return nil, usageError{"--plugin-dir is required"}
	}
	if o.conflist == "" && !(o.command == "version" && o.pluginType != "") {
		return nil, usageError{"--conflist is required"}
	}
	switch o.command {
	case "add", "check", "del":
		if o.id == "" {
			return nil, usageError{"--id is required for " + o.command}
		}
		fallthrough
	case "gc":
		if o.cacheDir == "" {
			return nil, usageError{"--cache-dir is required for " + o.command + " (libcni would use /var/lib/cni)"}
		}
	}
	return o, nil
}

func run(argv []string) []error {
	o, err := parseFlags(argv)
	if err != nil {
		return []error{err}
	}
	rt := &libcni.RuntimeConf{ContainerID: o.id, NetNS: o.netns, IfName: o.ifname}
	if rt.Args, err = parseArgs(o.args); err != nil {
		return []error{usageError{err.Error()}}
	}
	if o.capJSON != "" {
		if err := json.Unmarshal([]byte(o.capJSON), &rt.CapabilityArgs); err != nil || rt.CapabilityArgs == nil {
			return []error{usageError{fmt.Sprintf("--cap must be a JSON object: %q", o.capJSON)}}
		}
	}
	valid, err := parseValid(o.valid)
	if err != nil {
		return []error{usageError{err.Error()}}
	}
	if o.cacheDir != "" {
		if o.cacheDir, err = filepath.Abs(o.cacheDir); err != nil {
			return []error{err}
		}
	}

	ex := &driverExec{DefaultExec: invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}}
	if o.trace != "" {
		f, err := os.OpenFile(o.trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return []error{err}
		}
		defer f.Close()
		ex.trace = f
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(o.pluginDir), o.cacheDir, ex)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	var list *libcni.NetworkConfigList
	if o.conflist != "" {
		if list, err = libcni.ConfListFromFile(o.conflist); err != nil {
			return []error{err}
		}
	}

	switch o.command {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return []error{err}
		}
		recordNetns(o.cacheDir, list.Name, rt)
		out, err := json.Marshal(result)
		if err != nil {
			return []error{err}
		}
		fmt.Println(string(out))
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			return []error{err}
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			return []error{err}
		}
	case "gc":
		return gc(ctx, cni, ex, list, valid, o)
	case "status":
		if err := status(ctx, cni, ex, list, o); err != nil {
			return []error{err}
		}
	case "version":
		return versions(ctx, cni, list, o)
	}
	return nil
}

// parseArgs turns 'K=V;K2=V2' into libcni's CNI_ARGS pairs.
func parseArgs(s string) ([][2]string, error) {
	var out [][2]string
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--args: %q is not K=V", kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// gcAttachment is one entry of "cni.dev/valid-attachments" (libcni 1.2's types.GCAttachment).
type gcAttachment struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

func parseValid(s string) ([]gcAttachment, error) {
	out := []gcAttachment{} // marshals as [], never null
	if s == "" {
		return out, nil
	}
	for _, item := range strings.Split(s, ",") {
		id, ifname, ok := strings.Cut(item, "/")
		if !ok || id == "" || ifname == "" {
			return nil, fmt.Errorf("--valid: %q is not containerID/ifname", item)
		}
		out = append(out, gcAttachment{id, ifname})
	}
	return out, nil
}

// ---------------------------------------------------------------------------------------------
// Plugin execution: libcni's DefaultExec, plus an optional trace of every invocation.

type driverExec struct {
	invoke.DefaultExec
	trace *os.File
}

func (e *driverExec) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	out, err := e.RawExec.ExecPlugin(ctx, pluginPath, stdin, environ)
	if e.trace != nil {
		env := map[string]string{}
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CNI_") {
				env[k] = v
			}
		}
		rec := map[string]interface{}{"plugin": pluginPath, "command": env["CNI_COMMAND"], "env": env}
		if json.Valid(stdin) {
			rec["stdin"] = json.RawMessage(stdin)
		} else {
			rec["stdin"] = string(stdin)
		}
		if len(out) > 0 && json.Valid(out) {
			rec["stdout"] = json.RawMessage(out)
		} else {
			rec["stdout"] = string(out)
		}
		if err != nil {
			rec["error"] = err.Error()
		}
		if line, merr := json.Marshal(rec); merr == nil {
			_, _ = e.trace.Write(append(line, '\n'))
		}
	}
	return out, err
}

// noContainerArgs is the environment of GC and STATUS: libcni 1.2 sets the container variables
// empty (invoke.Args with only Command and Path); --bare-env leaves them out altogether.
type noContainerArgs struct {
	command string
	path    string
	bare    bool
}

func (a noContainerArgs) AsEnv() []string {
	if !a.bare {
		return (&invoke.Args{Command: a.command, Path: a.path}).AsEnv()
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CNI_") {
			env = append(env, kv)
		}
	}
	return append(env, "CNI_COMMAND="+a.command, "CNI_PATH="+a.path)
}

func atLeast110(list *libcni.NetworkConfigList) bool {
	ok, err := version.GreaterThanOrEqualTo(list.CNIVersion, "1.1.0")
	return err == nil && ok
}

// invokeEach sends command to each plugin of the list in order, its config with inject added.
func invokeEach(ctx context.Context, cni *libcni.CNIConfig, ex *driverExec, list *libcni.NetworkConfigList,
	command string, inject map[string]interface{}, o *options, stopAtFirst bool) []error {
	var errs []error
	args := noContainerArgs{command: command, path: strings.Join(cni.Path, string(os.PathListSeparator)), bare: o.bareEnv}
	for _, plugin := range list.Plugins {
		conf, err := libcni.InjectConf(plugin, inject)
		if err == nil {
			var pluginPath string
			if pluginPath, err = ex.FindInPath(plugin.Network.Type, cni.Path); err == nil {
				err = invoke.ExecPluginWithoutResult(ctx, pluginPath, conf.Bytes, args, ex)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin type=%q name=%q failed (%s): %w", plugin.Network.Type, list.Name, strings.ToLower(command), err))
			if stopAtFirst {
				break
			}
		}
	}
	return errs
}

func gc(ctx context.Context, cni *libcni.CNIConfig, ex *driverExec, list *libcni.NetworkConfigList, valid []gcAttachment, o *options) []error {
	disabled, err := listBool(list, "disableGC")
	if err != nil {
		return []error{err}
	}
	if disabled {
		note("%q has disableGC: nothing done", list.Name)
		return nil
	}
	var errs []error
	if !o.skipStaleDel {
		errs = append(errs, delStale(ctx, cni, list, valid, o.cacheDir)...)
	}
	if !atLeast110(list) && !o.force {
		note("cniVersion %q < 1.1.0: GC not sent to the plugins (as libcni does; --force sends it)", list.CNIVersion)
		return errs
	}
	inject := map[string]interface{}{
		"name":                      list.Name,
		"cniVersion":                list.CNIVersion,
		"cni.dev/valid-attachments": valid,
		"cni.dev/attachments":       valid,
	}
	return append(errs, invokeEach(ctx, cni, ex, list, "GC", inject, o, false)...)
}

func status(ctx context.Context, cni *libcni.CNIConfig, ex *driverExec, list *libcni.NetworkConfigList, o *options) error {
	if !atLeast110(list) && !o.force {
		note("cniVersion %q < 1.1.0: STATUS not sent to the plugins (as libcni does; --force sends it)", list.CNIVersion)
		return nil
	}
	inject := map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion}
	if errs := invokeEach(ctx, cni, ex, list, "STATUS", inject, o, true); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// listBool reads a top-level boolean of the list that libcni 1.1.2 does not know (disableGC).
func listBool(list *libcni.NetworkConfigList, key string) (bool, error) {
	raw := map[string]interface{}{}
	if err := json.Unmarshal(list.Bytes, &raw); err != nil {
		return false, err
	}
	v, ok := raw[key]
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("error parsing configuration list: invalid %s type %T", key, v)
	}
	return b, nil
}

// ---------------------------------------------------------------------------------------------
// The result cache. Entries are libcni's cniCacheV1 files, <cache>/results/<net>-<id>-<ifname>.

type cacheEntry struct {
	Kind           string                 `json:"kind"`
	ContainerID    string                 `json:"containerId"`
	Config         []byte                 `json:"config"`
	IfName         string                 `json:"ifName"`
	NetworkName    string                 `json:"networkName"`
	NetNS          string                 `json:"netns,omitempty"`
	CniArgs        [][2]string            `json:"cniArgs,omitempty"`
	CapabilityArgs map[string]interface{} `json:"capabilityArgs,omitempty"`
}

func cacheFile(cacheDir, network string, rt *libcni.RuntimeConf) string {
	return filepath.Join(cacheDir, "results", fmt.Sprintf("%s-%s-%s", network, rt.ContainerID, rt.IfName))
}

// recordNetns adds the "netns" field libcni >= 1.2 keeps in the cache (1.1.2 does not), so that
// gc can DEL a stale attachment with its namespace the way libcni 1.2 does. Best effort.
func recordNetns(cacheDir, network string, rt *libcni.RuntimeConf) {
	if rt.NetNS == "" {
		return
	}
	file := cacheFile(cacheDir, network, rt)
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	raw := map[string]json.RawMessage{}
	if json.Unmarshal(data, &raw) != nil {
		return
	}
	ns, _ := json.Marshal(rt.NetNS)
	raw["netns"] = ns
	if out, err := json.Marshal(raw); err == nil {
		_ = os.WriteFile(file, out, 0o600)
	}
}

// delStale is the first half of libcni 1.2's GCNetworkList: a DEL for every cached attachment of
// this network that is not valid. Unlike libcni it DELs with the configuration list cached at ADD
// (falling back to the given one): libcni 1.1.2 cannot convert a cached result to another
// cniVersion, so a stale DEL with a 1.1.0 list for a 1.0.0 ADD would fail before any plugin ran.
func delStale(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, valid []gcAttachment, cacheDir string) []error {
	dir := filepath.Join(cacheDir, "results")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // no cache, nothing attached (libcni ignores this too)
	}
	keep := map[gcAttachment]bool{}
	for _, a := range valid {
		keep[a] = true
	}
	var errs []error
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var c cacheEntry
		if json.Unmarshal(data, &c) != nil || c.Kind != libcni.CNICacheV1 || c.IfName == "" || c.NetworkName != list.Name {
			continue
		}
		if keep[gcAttachment{c.ContainerID, c.IfName}] {
			continue
		}
		rt := &libcni.RuntimeConf{ContainerID: c.ContainerID, NetNS: c.NetNS, IfName: c.IfName, Args: c.CniArgs, CapabilityArgs: c.CapabilityArgs}
		delList := list
		if cached, err := libcni.ConfListFromBytes(c.Config); err == nil && cached.Name == list.Name {
			delList = cached
		}
		if err := cni.DelNetworkList(ctx, delList, rt); err != nil {
			errs = append(errs, fmt.Errorf("failed to delete stale attachment %s %s: %w", c.ContainerID, c.IfName, err))
		}
	}
	return errs
}

// ---------------------------------------------------------------------------------------------

func versions(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, o *options) []error {
	var kinds []string
	seen := map[string]bool{}
	addKind := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			kinds = append(kinds, t)
		}
	}
	if o.pluginType != "" {
		addKind(o.pluginType)
	} else {
		for _, p := range list.Plugins {
			addKind(p.Network.Type)
			addKind(p.Network.IPAM.Type)
		}
	}
	out := map[string]json.RawMessage{}
	var errs []error
	for _, t := range kinds {
		info, err := cni.GetVersionInfo(ctx, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin type=%q failed (version): %w", t, err))
			continue
		}
		var b strings.Builder
		if err := info.Encode(&b); err != nil {
			errs = append(errs, err)
			continue
		}
		out[t] = json.RawMessage(strings.TrimSpace(b.String()))
	}
	if len(errs) > 0 {
		return errs
	}
	data, err := json.Marshal(out)
	if err != nil {
		return []error{err}
	}
	fmt.Println(string(data))
	return nil
}
