/*
 * PowerShell host command lines: which argument (if any) PowerShell itself takes as `-EncodedCommand`, and
 * what that base64 payload says.
 *
 * The parameter matching follows the console host's own parser (`CommandLineParameterParser` in
 * PowerShell 7, and the same rules in Windows PowerShell 5.1): a switch starts with `-`, `/`, `--` or a
 * Unicode dash (– — ―); it matches a parameter when it is a case-insensitive prefix of the parameter's name
 * and at least as long as the parameter's shortest unambiguous prefix; parameters are tried in a fixed order
 * and the first match wins. For EncodedCommand that means:
 *
 * - `-e`, `-en`, `-enc`, …, `-encodedcommand` and the alias `-ec` ARE EncodedCommand. `-e` is not ambiguous
 *   to the host: EncodedCommand's shortest prefix is `e` and ExecutionPolicy's is `ex`, so `-e` resolves to
 *   EncodedCommand in both 5.1 and 7 (it is documented as an alias in `about_Pwsh`) — and attackers use it.
 * - `-ex`, `-exec`, `-executionpolicy`, `-ep` are ExecutionPolicy; `-ea`, `-encodeda…` are EncodedArguments.
 * - Scanning stops where the host stops reading its own parameters: at `-Command`/`-c`, `-File`/`-f`, the
 *   first argument that is not a switch (an implicit -File/-Command) and the first unknown switch. So
 *   `powershell -Command "Write-Output -e foo"` and `pwsh -File x.ps1 -enc y` are not encoded commands.
 */

/** Which host parses the command line: Windows PowerShell (`powershell.exe`) or PowerShell 7 (`pwsh`). */
export type PowerShellHost = "windows-powershell" | "pwsh";

/** What the host does with a parameter. */
type ParameterEffect =
  /** A flag. */
  | "switch"
  /** Consumes the next argument. */
  | "value"
  /** The rest of the command line belongs to the command or script. */
  | "stop"
  /** EncodedCommand: the next argument is the base64 payload. */
  | "encoded";

interface HostParameter {
  /** Full lower-case name (or alias). */
  name: string;
  /** Shortest accepted prefix. */
  min: string;
  effect: ParameterEffect | ((host: PowerShellHost) => ParameterEffect);
}

/** The console host's parameters, in the order its parser tries them. */
const HOST_PARAMETERS: readonly HostParameter[] = [
  // PowerShell 7 prints its version and exits; Windows PowerShell 5.1 takes a version to start (`-Version 2`).
  { name: "version", min: "v", effect: (host) => (host === "pwsh" ? "stop" : "value") },
  { name: "help", min: "h", effect: "stop" },
  { name: "?", min: "?", effect: "stop" },
  { name: "login", min: "l", effect: "switch" },
  { name: "noexit", min: "noe", effect: "switch" },
  { name: "noprofile", min: "nop", effect: "switch" },
  { name: "nologo", min: "nol", effect: "switch" },
  { name: "noninteractive", min: "noni", effect: "switch" },
  { name: "socketservermode", min: "so", effect: "switch" },
  { name: "servermode", min: "s", effect: "switch" },
  { name: "namedpipeservermode", min: "nam", effect: "switch" },
  { name: "sshservermode", min: "sshs", effect: "switch" },
  { name: "interactive", min: "i", effect: "switch" },
  { name: "configurationname", min: "config", effect: "value" },
  { name: "custompipename", min: "cus", effect: "value" },
  { name: "command", min: "c", effect: "stop" },
  { name: "windowstyle", min: "w", effect: "value" },
  { name: "file", min: "f", effect: "stop" },
  { name: "outputformat", min: "o", effect: "value" },
  { name: "of", min: "o", effect: "value" },
  { name: "inputformat", min: "inp", effect: "value" },
  { name: "if", min: "if", effect: "value" },
  { name: "executionpolicy", min: "ex", effect: "value" },
  { name: "ep", min: "ep", effect: "value" },
  { name: "encodedcommand", min: "e", effect: "encoded" },
  { name: "ec", min: "e", effect: "encoded" },
  { name: "encodedarguments", min: "encodeda", effect: "value" },
  { name: "ea", min: "ea", effect: "value" },
  { name: "settingsfile", min: "settings", effect: "value" },
  { name: "sta", min: "sta", effect: "switch" },
  { name: "mta", min: "mta", effect: "switch" },
  { name: "workingdirectory", min: "wo", effect: "value" },
  { name: "wd", min: "wd", effect: "value" },
  // Windows PowerShell 5.1 only.
  { name: "psconsolefile", min: "psconsolefile", effect: "value" },
];

/** `-`, en dash, em dash, horizontal bar (PowerShell's `CharExtensions.IsDash`). */
const DASHES = new Set(["-", "\u2013", "\u2014", "\u2015"]);

/** Executable names of PowerShell hosts (lower case). */
const HOST_BY_NAME: ReadonlyMap<string, PowerShellHost> = new Map([
  ["powershell.exe", "windows-powershell"],
  ["powershell", "windows-powershell"],
  ["powershell_ise.exe", "windows-powershell"],
  ["pwsh.exe", "pwsh"],
  ["pwsh", "pwsh"],
]);

/** The file name of a Windows or POSIX path. */
export function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** The PowerShell host an executable is, or null when it is not PowerShell. */
export function powerShellHostOf(image: string): PowerShellHost | null {
  return HOST_BY_NAME.get(baseName(image).toLowerCase()) ?? null;
}

/**
 * Splits a command line into arguments with the Windows C runtime rules (`CommandLineToArgvW`): white space
 * separates arguments outside double quotes; `2n` backslashes before a quote give `n` backslashes and toggle
 * quoting, `2n+1` give `n` backslashes and a literal quote; other backslashes are literal; `""` inside quotes
 * is a literal quote.
 */
export function splitCommandLine(commandLine: string): string[] {
  const args: string[] = [];
  let current = "";
  let inArg = false;
  let quoted = false;
  for (let i = 0; i < commandLine.length; i++) {
    const c = commandLine[i];
    if (c === "\\") {
      let slashes = 0;
      while (commandLine[i] === "\\") {
        slashes++;
        i++;
      }
      if (commandLine[i] === '"') {
        current += "\\".repeat(Math.floor(slashes / 2));
        if (slashes % 2 === 1) current += '"';
        else quoted = !quoted;
      } else {
        current += "\\".repeat(slashes);
        i--;
      }
      inArg = true;
    } else if (c === '"') {
      if (quoted && commandLine[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
      inArg = true;
    } else if (!quoted && (c === " " || c === "\t" || c === "\n" || c === "\r")) {
      if (inArg) args.push(current);
      current = "";
      inArg = false;
    } else {
      current += c;
      inArg = true;
    }
  }
  if (inArg) args.push(current);
  return args;
}

/** Where the host found `-EncodedCommand`. */
export interface EncodedCommandArgument {
  host: PowerShellHost;
  /** The switch as written, e.g. `-enc` or `/EncodedCommand`. */
  parameter: string;
  /** The argument after it: the base64 payload. */
  payload: string;
}

function matchParameter(switchKey: string, host: PowerShellHost): ParameterEffect | null {
  const key = switchKey.toLowerCase();
  for (const p of HOST_PARAMETERS) {
    if (key.length >= p.min.length && p.name.startsWith(key))
      return typeof p.effect === "function" ? p.effect(host) : p.effect;
  }
  return null;
}

/**
 * Finds the argument PowerShell would run as `-EncodedCommand`. Returns null when `image` is not a
 * PowerShell host, when no such switch precedes the end of the host's own parameters, or when the switch has
 * no argument (the host would refuse to start). The first argument of `commandLine` is skipped when it names
 * the executable.
 */
export function findEncodedCommand(image: string, commandLine: string): EncodedCommandArgument | null {
  const host = powerShellHostOf(image);
  if (!host) return null;
  const args = splitCommandLine(commandLine);
  let i = 0;
  if (args.length > 0 && powerShellHostOf(args[0]) !== null) i = 1;
  for (; i < args.length; i++) {
    const arg = args[i].trim();
    if (!arg) continue;
    if (!DASHES.has(arg[0]) && arg[0] !== "/") return null; // an implicit -File / -Command
    let switchKey = arg.slice(1);
    if (switchKey && DASHES.has(switchKey[0])) switchKey = switchKey.slice(1);
    const effect = matchParameter(switchKey, host);
    if (effect === null || effect === "stop") return null;
    if (effect === "value") i++;
    else if (effect === "encoded") {
      const payload = args[i + 1];
      return payload === undefined ? null : { host, parameter: arg, payload };
    }
  }
  return null;
}

/** A decoded `-EncodedCommand` payload. */
export interface DecodedCommand {
  /** The script text (UTF-16LE, as the host decodes it), cut to `maxChars`. */
  text: string;
  /** Whether `text` was cut. */
  truncated: boolean;
}

/**
 * Decodes an EncodedCommand payload the way the host does (base64 of UTF-16LE; white space ignored).
 * Returns null when the payload is not valid base64 (the host would refuse it).
 */
export function decodeEncodedCommand(payload: string, maxChars = 4096): DecodedCommand | null {
  const compact = payload.replace(/\s+/g, "");
  if (!compact || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return null;
  const bytes = Buffer.from(compact, "base64");
  // Decode only what is kept: two bytes per UTF-16 code unit.
  const keep = Math.min(bytes.length - (bytes.length % 2), maxChars * 2);
  const text = bytes.subarray(0, keep).toString("utf16le");
  return { text, truncated: bytes.length - (bytes.length % 2) > keep };
}

/** Download-and-run markers of decoded commands: label and pattern. */
const DOWNLOAD_MARKERS: ReadonlyArray<readonly [label: string, pattern: RegExp]> = [
  ["Net.WebClient", /net\.webclient/i],
  ["DownloadString", /downloadstring/i],
  ["DownloadFile", /downloadfile/i],
  ["DownloadData", /downloaddata/i],
  ["Invoke-WebRequest", /invoke-webrequest|\biwr\b/i],
  ["Invoke-RestMethod", /invoke-restmethod|\birm\b/i],
  ["IEX", /\biex\b|invoke-expression/i],
  ["Start-BitsTransfer", /start-bitstransfer/i],
  ["XMLHTTP", /msxml2\.(?:server)?xmlhttp|winhttp\.winhttprequest/i],
];

/** The download markers found in a decoded command, in a fixed order. */
export function downloadIndicators(text: string): string[] {
  return DOWNLOAD_MARKERS.filter(([, pattern]) => pattern.test(text)).map(([label]) => label);
}

/** `http(s)://` URLs in a text (at most `max`, each at most 2,048 characters). */
export function extractUrls(text: string, max = 5): string[] {
  const urls = new Set<string>();
  for (const match of text.matchAll(/\bhttps?:\/\/[^\s'"`()<>{}]+/gi)) {
    urls.add(match[0].replace(/[.,;]+$/, "").slice(0, 2048));
    if (urls.size >= max) break;
  }
  return [...urls];
}
