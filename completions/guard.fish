# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_guard_global_optspecs
    string join \n h/help V/version
end

function __fish_guard_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_guard_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_guard_using_subcommand
    set -l cmd (__fish_guard_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c guard -n "__fish_guard_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_needs_command" -s V -l version -d 'Print version'
complete -c guard -n "__fish_guard_needs_command" -f -a "check" -d 'Decide a command line without running it. Exit 0 allow, 1 review or deny, 2 error'
complete -c guard -n "__fish_guard_needs_command" -f -a "rules" -d 'Inspect and test the rules'
complete -c guard -n "__fish_guard_needs_command" -f -a "creds" -d 'Inventory the credentials this user can reach'
complete -c guard -n "__fish_guard_needs_command" -f -a "audit" -d 'Verify, read and anchor the audit log'
complete -c guard -n "__fish_guard_needs_command" -f -a "hook" -d 'Decide an agent harness\'s tool call (a pre-tool hook), or install guard as one'
complete -c guard -n "__fish_guard_needs_command" -f -a "approver" -d 'The approver service, and its reviewer CLI'
complete -c guard -n "__fish_guard_needs_command" -f -a "session" -d 'Start, end and inspect sessions'
complete -c guard -n "__fish_guard_needs_command" -f -a "broker" -d 'Run the broker, the reference monitor, in the foreground as this user'
complete -c guard -n "__fish_guard_needs_command" -f -a "status" -d 'Say how lines are decided here: by a broker, or in-process (advisory)'
complete -c guard -n "__fish_guard_needs_command" -f -a "completions" -d 'Print a completion script for SHELL'
complete -c guard -n "__fish_guard_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c guard -n "__fish_guard_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand check" -s c -d 'The command line to check, as a shell script' -r
complete -c guard -n "__fish_guard_using_subcommand check" -l json -d 'Print the decision as one JSON object'
complete -c guard -n "__fish_guard_using_subcommand check" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand rules; and not __fish_seen_subcommand_from list show test lint help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand rules; and not __fish_seen_subcommand_from list show test lint help" -f -a "list" -d 'List every loaded rule'
complete -c guard -n "__fish_guard_using_subcommand rules; and not __fish_seen_subcommand_from list show test lint help" -f -a "show" -d 'Show one rule as YAML, with where it was defined'
complete -c guard -n "__fish_guard_using_subcommand rules; and not __fish_seen_subcommand_from list show test lint help" -f -a "test" -d 'Check each rule\'s examples (match / no_match). With FILES, the embedded packs plus those files; otherwise the configured rules'
complete -c guard -n "__fish_guard_using_subcommand rules; and not __fish_seen_subcommand_from list show test lint help" -f -a "lint" -d 'Validate the configuration (or FILES) and compile every regex'
complete -c guard -n "__fish_guard_using_subcommand rules; and not __fish_seen_subcommand_from list show test lint help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from lint" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every loaded rule'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one rule as YAML, with where it was defined'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "test" -d 'Check each rule\'s examples (match / no_match). With FILES, the embedded packs plus those files; otherwise the configured rules'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "lint" -d 'Validate the configuration (or FILES) and compile every regex'
complete -c guard -n "__fish_guard_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -f -a "scan" -d 'List reachable credentials, never their values. Exit 0 none, 1 some, 2 error'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -f -a "usage" -d 'For each credential: who holds it, how it was used, what it touched, and whether it was used at all (from the definitions, `creds scan` and the audit log)'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -f -a "reap-command" -d 'Revoke a per-command credential once its command has ended (run by guard itself, detached, when it mints one)'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -f -a "import" -d 'Move a user\'s credentials into the broker\'s store (run as root)'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -f -a "mint-aws" -d 'The provider of an imported AWS profile: STS session credentials from the stored key, as JSON (run by the broker)'
complete -c guard -n "__fish_guard_using_subcommand creds; and not __fish_seen_subcommand_from scan usage reap-command import mint-aws help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from scan" -l depth -d 'Directory levels below the cwd searched for .env files' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from scan" -l json -d 'Print one JSON document'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from scan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from usage" -l since -d 'RFC 3339 time, or an age such as 30d or 12h' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from usage" -l user -d 'Only this user\'s commands' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from usage" -l dir -d 'The audit log\'s directory (default: the state dir; a broker\'s is /var/log/guard)' -r -F
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from usage" -l depth -d 'Directory levels below the cwd searched for .env files' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from usage" -l json -d 'A list of objects, one per credential'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from usage" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from reap-command" -l pid -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from reap-command" -l file -r -F
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from reap-command" -l audit-dir -r -F
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from reap-command" -l ttl-ms -d 'Revoke by then even if the command still runs' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from reap-command" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -l user -d 'Whose credentials' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -l home -d 'Their home (default: from the passwd database)' -r -F
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -l state-dir -d 'The broker\'s state directory' -r -F
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -l broker-user -d 'The broker\'s user, who will own the store' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -l depth -d 'Directory levels below the home searched for .env files' -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -l dry-run -d 'Say what would be done, and do nothing'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from mint-aws" -l store -r -F
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from mint-aws" -l profile -r
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from mint-aws" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "scan" -d 'List reachable credentials, never their values. Exit 0 none, 1 some, 2 error'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "usage" -d 'For each credential: who holds it, how it was used, what it touched, and whether it was used at all (from the definitions, `creds scan` and the audit log)'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "reap-command" -d 'Revoke a per-command credential once its command has ended (run by guard itself, detached, when it mints one)'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "import" -d 'Move a user\'s credentials into the broker\'s store (run as root)'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "mint-aws" -d 'The provider of an imported AWS profile: STS session credentials from the stored key, as JSON (run by the broker)'
complete -c guard -n "__fish_guard_using_subcommand creds; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -l dir -d 'The log\'s directory (default: the state dir; a broker\'s is /var/log/guard)' -r -F
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -f -a "verify" -d 'Re-walk the hash chain. Names the first broken link with its line and reason. Exit 0 only when everything checks out'
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -f -a "tail" -d 'Print the newest records; with -f keep printing new ones'
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -f -a "show" -d 'Print the records that match every filter given'
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -f -a "anchor" -d 'Print the chain head (SHA-256 of the newest record) for an external store'
complete -c guard -n "__fish_guard_using_subcommand audit; and not __fish_seen_subcommand_from verify tail show anchor help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from verify" -l anchor -d 'A head exported earlier (`guard audit anchor`) that must still be one of the records' -r
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from verify" -l dir -d 'The log\'s directory (default: the state dir; a broker\'s is /var/log/guard)' -r -F
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from tail" -s n -l lines -d 'How many records to print first' -r
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from tail" -l dir -d 'The log\'s directory (default: the state dir; a broker\'s is /var/log/guard)' -r -F
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from tail" -s f -l follow -d 'Follow the log as it grows (and rotates)'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from tail" -l json -d 'Raw JSON lines instead of a table'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from tail" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -l session -r
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'RFC 3339 time, or an age such as 10m or 2h' -r
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -l decision -d 'allow, deny, event or exit' -r
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -l dir -d 'The log\'s directory (default: the state dir; a broker\'s is /var/log/guard)' -r -F
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -l json -d 'Raw JSON lines instead of a table'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -l tree -d 'Each session\'s purpose, its lines, and the programs each line started and how each was decided'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from anchor" -l dir -d 'The log\'s directory (default: the state dir; a broker\'s is /var/log/guard)' -r -F
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from anchor" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Re-walk the hash chain. Names the first broken link with its line and reason. Exit 0 only when everything checks out'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "tail" -d 'Print the newest records; with -f keep printing new ones'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the records that match every filter given'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "anchor" -d 'Print the chain head (SHA-256 of the newest record) for an external store'
complete -c guard -n "__fish_guard_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand hook; and not __fish_seen_subcommand_from claude-code gemini json install help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand hook; and not __fish_seen_subcommand_from claude-code gemini json install help" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook: its JSON on stdin, its hookSpecificOutput on stdout'
complete -c guard -n "__fish_guard_using_subcommand hook; and not __fish_seen_subcommand_from claude-code gemini json install help" -f -a "gemini" -d 'Gemini CLI\'s BeforeTool hook'
complete -c guard -n "__fish_guard_using_subcommand hook; and not __fish_seen_subcommand_from claude-code gemini json install help" -f -a "json" -d 'The harness-neutral hook (schemas/hook-json.schema.json)'
complete -c guard -n "__fish_guard_using_subcommand hook; and not __fish_seen_subcommand_from claude-code gemini json install help" -f -a "install" -d 'Merge guard\'s hook into a harness\'s settings file'
complete -c guard -n "__fish_guard_using_subcommand hook; and not __fish_seen_subcommand_from claude-code gemini json install help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -l defer-allow -d 'Leave allowed calls to Claude Code\'s own permission prompts instead of answering `allow`'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from claude-code" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from gemini" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from json" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from install" -l settings -d 'Another settings file (for tests and unusual layouts)' -r -F
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from install" -l project -d 'The project\'s settings (./.claude/settings.json), the default'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from install" -l user -d 'The user\'s settings (~/.claude/settings.json)'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from install" -l uninstall -d 'Take guard\'s entry out again'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from install" -l allow -d 'Answer `allow` outright for what guard allows, skipping Claude Code\'s own prompts (default: leave those calls to them)'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook: its JSON on stdin, its hookSpecificOutput on stdout'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "gemini" -d 'Gemini CLI\'s BeforeTool hook'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "json" -d 'The harness-neutral hook (schemas/hook-json.schema.json)'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "install" -d 'Merge guard\'s hook into a harness\'s settings file'
complete -c guard -n "__fish_guard_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "serve" -d 'Serve the webhook protocol, the reviewers\' page and their API'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "user" -d 'Manage reviewer accounts'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "list" -d 'Requests waiting for review (`--all`: every request)'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "show" -d 'One request, as stored'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "approve" -d 'Approve a request'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "deny" -d 'Deny a request'
complete -c guard -n "__fish_guard_using_subcommand approver; and not __fish_seen_subcommand_from serve user list show approve deny help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l listen -d 'Address to listen on, e.g. 127.0.0.1:8787' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l database -d '`sqlite:PATH` (created on first start) or `postgres://…`' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l secret-file -d 'The shared HMAC secret (must not be readable by others)' -r -F
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l config -d 'approvals_required, notify, trusted_header, agents' -r -F
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l audit-dir -d 'Where reviewer actions are logged (hash-chained; default: an `audit` directory beside a SQLite database, else required)' -r -F
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from user" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from user" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from user" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from user" -f -a "add" -d 'Add a reviewer (or set a new password); the password is read from stdin'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from user" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from list" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from list" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from list" -l json
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from list" -l all
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from show" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from show" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from approve" -l scope -r -f -a "once\t''
session\t''"
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from approve" -l reason -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from approve" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from approve" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from deny" -l reason -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from deny" -l url -d 'The approver\'s address, for the reviewer commands' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from deny" -l user -d 'The reviewer\'s name; the password comes from GUARD_APPROVER_PASSWORD' -r
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from deny" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Serve the webhook protocol, the reviewers\' page and their API'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "user" -d 'Manage reviewer accounts'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "list" -d 'Requests waiting for review (`--all`: every request)'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "show" -d 'One request, as stored'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Approve a request'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "deny" -d 'Deny a request'
complete -c guard -n "__fish_guard_using_subcommand approver; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -f -a "start" -d 'Start a session and print `export GUARD_SESSION=ID` (eval it)'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -f -a "end" -d 'End a session (default: $GUARD_SESSION), revoking its credentials'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -f -a "status" -d 'Show one session (default: $GUARD_SESSION)'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -f -a "list" -d 'List live and ended sessions'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -f -a "reap" -d 'End expired sessions and those whose process is gone'
complete -c guard -n "__fish_guard_using_subcommand session; and not __fish_seen_subcommand_from start end status list reap help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from start" -l purpose -d 'Why the session exists: recorded with every decision in it' -r
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from start" -l boundary -d 'The boundary its commands must stay in (e.g. staging)' -r
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from start" -l ttl -d 'How long it lives (e.g. 2h); default the config\'s session_ttl' -r
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from start" -l grant -d 'A credential its commands may be given without review' -r
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from start" -l json
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from end" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from status" -l json
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from list" -l json
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from reap" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start a session and print `export GUARD_SESSION=ID` (eval it)'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "end" -d 'End a session (default: $GUARD_SESSION), revoking its credentials'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show one session (default: $GUARD_SESSION)'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "list" -d 'List live and ended sessions'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "reap" -d 'End expired sessions and those whose process is gone'
complete -c guard -n "__fish_guard_using_subcommand session; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand broker" -l socket -d 'Where to listen (unless systemd passes a socket)' -r -F
complete -c guard -n "__fish_guard_using_subcommand broker" -l config -d 'One config file instead of the admin layers under /etc/guard' -r -F
complete -c guard -n "__fish_guard_using_subcommand broker" -l state-dir -d 'Sessions, minted credentials, approval memory' -r -F
complete -c guard -n "__fish_guard_using_subcommand broker" -l audit-dir -d 'The audit log (DIR/audit.jsonl)' -r -F
complete -c guard -n "__fish_guard_using_subcommand broker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c guard -n "__fish_guard_using_subcommand status" -l json -d 'Print one JSON object'
complete -c guard -n "__fish_guard_using_subcommand status" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand completions" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand man" -s h -l help -d 'Print help'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "check" -d 'Decide a command line without running it. Exit 0 allow, 1 review or deny, 2 error'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "rules" -d 'Inspect and test the rules'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "creds" -d 'Inventory the credentials this user can reach'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "audit" -d 'Verify, read and anchor the audit log'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "hook" -d 'Decide an agent harness\'s tool call (a pre-tool hook), or install guard as one'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "approver" -d 'The approver service, and its reviewer CLI'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "session" -d 'Start, end and inspect sessions'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "broker" -d 'Run the broker, the reference monitor, in the foreground as this user'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "status" -d 'Say how lines are decided here: by a broker, or in-process (advisory)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "completions" -d 'Print a completion script for SHELL'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c guard -n "__fish_guard_using_subcommand help; and not __fish_seen_subcommand_from check rules creds audit hook approver session broker status completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from rules" -f -a "list" -d 'List every loaded rule'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from rules" -f -a "show" -d 'Show one rule as YAML, with where it was defined'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from rules" -f -a "test" -d 'Check each rule\'s examples (match / no_match). With FILES, the embedded packs plus those files; otherwise the configured rules'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from rules" -f -a "lint" -d 'Validate the configuration (or FILES) and compile every regex'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "scan" -d 'List reachable credentials, never their values. Exit 0 none, 1 some, 2 error'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "usage" -d 'For each credential: who holds it, how it was used, what it touched, and whether it was used at all (from the definitions, `creds scan` and the audit log)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "reap-command" -d 'Revoke a per-command credential once its command has ended (run by guard itself, detached, when it mints one)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "import" -d 'Move a user\'s credentials into the broker\'s store (run as root)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from creds" -f -a "mint-aws" -d 'The provider of an imported AWS profile: STS session credentials from the stored key, as JSON (run by the broker)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Re-walk the hash chain. Names the first broken link with its line and reason. Exit 0 only when everything checks out'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "tail" -d 'Print the newest records; with -f keep printing new ones'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print the records that match every filter given'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "anchor" -d 'Print the chain head (SHA-256 of the newest record) for an external store'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "claude-code" -d 'Claude Code\'s PreToolUse hook: its JSON on stdin, its hookSpecificOutput on stdout'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "gemini" -d 'Gemini CLI\'s BeforeTool hook'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "json" -d 'The harness-neutral hook (schemas/hook-json.schema.json)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "install" -d 'Merge guard\'s hook into a harness\'s settings file'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from approver" -f -a "serve" -d 'Serve the webhook protocol, the reviewers\' page and their API'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from approver" -f -a "user" -d 'Manage reviewer accounts'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from approver" -f -a "list" -d 'Requests waiting for review (`--all`: every request)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from approver" -f -a "show" -d 'One request, as stored'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from approver" -f -a "approve" -d 'Approve a request'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from approver" -f -a "deny" -d 'Deny a request'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "start" -d 'Start a session and print `export GUARD_SESSION=ID` (eval it)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "end" -d 'End a session (default: $GUARD_SESSION), revoking its credentials'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "status" -d 'Show one session (default: $GUARD_SESSION)'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "list" -d 'List live and ended sessions'
complete -c guard -n "__fish_guard_using_subcommand help; and __fish_seen_subcommand_from session" -f -a "reap" -d 'End expired sessions and those whose process is gone'
