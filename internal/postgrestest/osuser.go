package postgrestest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ServerUserName is the dedicated system account the harness creates (when
// running as root) to own and run the PostgreSQL clusters, because
// PostgreSQL refuses to run as root.
const ServerUserName = "pgshardtest"

// osUser is the OS account PostgreSQL binaries are executed as.
type osUser struct {
	Name string
	UID  uint32
	GID  uint32
	// Switch reports whether child processes must switch to UID/GID
	// (true only when the test process runs as root).
	Switch bool
}

// serverUser returns the account used to run initdb/pg_ctl/postgres. When
// the test process is not root it is the current user. When it is root, it
// is the dedicated ServerUserName system user (created with useradd if
// needed), falling back to "nobody" if the user cannot be created.
var serverUser = sync.OnceValue(resolveServerUser)

func resolveServerUser() *osUser {
	if os.Geteuid() != 0 {
		name := strconv.Itoa(os.Geteuid())
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		return &osUser{Name: name, UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	}
	if u, err := lookupUser(ServerUserName); err == nil {
		return u
	}
	var addErr error
	if path, err := exec.LookPath("useradd"); err != nil {
		addErr = err
	} else {
		cmd := exec.Command(path, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ServerUserName)
		out, err := cmd.CombinedOutput()
		if err != nil {
			// A concurrent test process may have created it in the meantime
			// ("already exists", exit status 9); the lookup below decides.
			addErr = fmt.Errorf("useradd %s: %v: %s", ServerUserName, err, strings.TrimSpace(string(out)))
		}
	}
	if u, err := lookupUser(ServerUserName); err == nil {
		return u
	}
	// Fall back to nobody.
	if u, err := lookupUser("nobody"); err == nil && u.UID != 0 {
		return u
	}
	if addErr == nil {
		addErr = errors.New("user not found after useradd")
	}
	fmt.Fprintf(os.Stderr, "postgrestest: cannot create user %s (%v); using uid 65534\n", ServerUserName, addErr)
	return &osUser{Name: "nobody", UID: 65534, GID: 65534, Switch: true}
}

func lookupUser(name string) (*osUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: bad uid %q", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: bad gid %q", name, u.Gid)
	}
	return &osUser{Name: name, UID: uint32(uid), GID: uint32(gid), Switch: true}, nil
}

// apply configures cmd to run as u (if a switch is needed) with a clean
// environment: inherited PG* variables are removed so they cannot redirect
// the PostgreSQL tools to another server or data directory.
func (u *osUser) apply(cmd *exec.Cmd, home string) {
	if u.Switch {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}},
		}
	}
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PG"), strings.HasPrefix(k, "LC_"), k == "LANG", k == "LANGUAGE",
			k == "HOME", k == "USER", k == "LOGNAME", k == "TZ":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C", "HOME="+home, "USER="+u.Name, "LOGNAME="+u.Name)
	cmd.Env = env
	cmd.Dir = home
}

// chown hands path to u when the harness runs as root; otherwise it is a
// no-op.
func (u *osUser) chown(path string) error {
	if !u.Switch {
		return nil
	}
	return os.Chown(path, int(u.UID), int(u.GID))
}

// asOwnerOf returns an account that matches the owner of path (used to stop
// leftover clusters that may belong to another fallback user).
func asOwnerOf(path string) *osUser {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if os.Geteuid() != 0 {
		if int(st.Uid) != os.Geteuid() {
			return nil
		}
		return &osUser{Name: strconv.Itoa(int(st.Uid)), UID: st.Uid, GID: st.Gid}
	}
	if st.Uid == 0 {
		return nil
	}
	return &osUser{Name: strconv.Itoa(int(st.Uid)), UID: st.Uid, GID: st.Gid, Switch: true}
}
