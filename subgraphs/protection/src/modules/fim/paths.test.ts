import {
  compileWatchList,
  DEFAULT_WATCH_LIST,
  defaultsCoverBuiltInClass,
  defaultWatchMatcher,
  normalizeWatchEntry,
  pathKey,
  watchEntryRegex,
  watchPathProblems,
} from "./paths";

describe("FIM paths", () => {
  it("compares Windows paths case-insensitively with either separator, POSIX paths exactly", () => {
    expect(pathKey("C:/Windows/System32/Drivers/etc/HOSTS")).toBe(
      "c:\\windows\\system32\\drivers\\etc\\hosts",
    );
    expect(pathKey("/etc/Passwd")).toBe("/etc/Passwd");
  });

  it("watches the built-in Linux and Windows paths, critical where a change is an attack", () => {
    const d = defaultWatchMatcher();
    for (const path of [
      "/etc/passwd",
      "/etc/shadow",
      "/etc/sudoers",
      "/etc/sudoers.d/90-cloud-init-users",
      "/etc/ssh/sshd_config",
      "/home/admin/.ssh/authorized_keys",
      "/root/.ssh/authorized_keys",
      "C:\\Windows\\System32\\drivers\\etc\\hosts",
      "c:/windows/system32/config/sam",
      "C:\\Users\\megan\\.ssh\\authorized_keys",
      "C:\\Windows\\System32\\Tasks\\Updater",
    ])
      expect({ path, critical: d.critical(path) }).toEqual({ path, critical: true });
    for (const path of [
      "/usr/bin/curl",
      "/bin/sh",
      "C:\\Windows\\System32\\drivers\\tcpip.sys",
      "C:\\Windows\\System32\\cmd.exe",
    ])
      expect({ path, watched: d.watched(path), critical: d.critical(path) }).toEqual({
        path,
        watched: true,
        critical: false,
      });
    for (const path of [
      "/etc/passwd-",
      "/home/admin/.ssh/id_rsa",
      "/home/a/b/.ssh/authorized_keys",
      "/tmp/.k",
      "/var/www/shop/public/js/checkout.js",
      "C:\\Windows\\System32\\drivers.bak",
      "C:\\Windows\\System32\\wbem\\wmic.exe",
    ])
      expect({ path, watched: d.watched(path) }).toEqual({ path, watched: false });
  });

  it("treats every file the detections classify as critical as critical by default", () => {
    for (const path of [
      "/etc/passwd",
      "/etc/gshadow",
      "/etc/group",
      "/etc/sudoers",
      "/etc/sudoers.d/admins",
      "/home/runner/.ssh/authorized_keys",
      "/root/.ssh/authorized_keys2",
      "/etc/hosts",
      "C:\\Windows\\System32\\drivers\\etc\\hosts",
      "C:\\ProgramData\\ssh\\administrators_authorized_keys",
    ])
      expect({ path, covered: defaultsCoverBuiltInClass(path) }).toEqual({ path, covered: true });
  });

  it("matches wildcards within one segment and recursive entries beneath a directory", () => {
    const m = compileWatchList([
      { path: "/var/www/*/public", recursive: true, critical: true },
      { path: "/etc/nginx/*.conf", recursive: false, critical: false },
      { path: "D:\\Apps\\Shop\\", recursive: true, critical: true },
    ]);
    expect(m.critical("/var/www/shop/public/js/checkout.js")).toBe(true);
    expect(m.critical("/var/www/shop/public")).toBe(true);
    expect(m.watched("/var/www/shop/private/x")).toBe(false);
    expect(m.watched("/var/www/a/b/public/x")).toBe(false);
    expect(m.watched("/etc/nginx/nginx.conf")).toBe(true);
    expect(m.watched("/etc/nginx/sites/default.conf")).toBe(false);
    expect(m.critical("d:/apps/shop/web.config")).toBe(true);
    expect(m.watched("D:\\Apps\\Shopping\\x")).toBe(false);
  });

  it("escapes regular-expression characters in paths", () => {
    const m = compileWatchList([{ path: "/opt/app (v1)/bin/a+b.sh", recursive: false, critical: true }]);
    expect(m.critical("/opt/app (v1)/bin/a+b.sh")).toBe(true);
    expect(m.critical("/opt/app v1/bin/aab.sh")).toBe(false);
    expect(watchEntryRegex({ path: "C:\\x\\*.dll", recursive: false, critical: true })).toBe(
      "^c:\\\\x\\\\[^\\\\]*\\.dll$",
    );
  });

  it("rejects relative paths, roots, dot segments and ** with a reason", () => {
    expect(watchPathProblems("etc/passwd")).toEqual([expect.stringMatching(/absolute/)]);
    expect(watchPathProblems("/")).toEqual(["must not be a file-system root"]);
    expect(watchPathProblems("C:\\")).toEqual(["must not be a file-system root"]);
    expect(watchPathProblems("/etc/../shadow")).toEqual(["must not contain . or .. segments"]);
    expect(watchPathProblems("/var/**/x")).toEqual(["`**` is not supported: use recursive"]);
    expect(watchPathProblems("/*/x")).toEqual(["the first segment cannot contain a wildcard"]);
    expect(watchPathProblems("")).toEqual(["must not be empty"]);
    expect(watchPathProblems("/etc/passwd")).toEqual([]);
    expect(normalizeWatchEntry({ path: "C:/Temp/", recursive: true, critical: false }).path).toBe("C:\\Temp");
  });

  it("every built-in entry is valid", () => {
    for (const e of DEFAULT_WATCH_LIST)
      expect({ path: e.path, problems: watchPathProblems(e.path) }).toEqual({ path: e.path, problems: [] });
  });
});
