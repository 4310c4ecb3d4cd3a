
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'ktail' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'ktail'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'ktail' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow every shard of a stream, like `tail -f`')
            [CompletionResult]::new('grep', 'grep', [CompletionResultType]::ParameterValue, 'Filter a stream on the server side and tail the matches; cleans up on exit')
            [CompletionResult]::new('attach', 'attach', [CompletionResultType]::ParameterValue, 'Deploy the grep Lambda and wire it to a stream; prints the filtered stream''s name')
            [CompletionResult]::new('detach', 'detach', [CompletionResultType]::ParameterValue, 'Remove what `ktail attach` wired to a stream')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'List every grep ktail has attached in this region')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the streams in this region')
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Send lines from stdin (or a file) to a stream as records')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('alias', 'alias', [CompletionResultType]::ParameterValue, 'Print the AWS CLI alias line that makes `aws ktail …` work')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one per subcommand into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ktail;tail' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit after this many records have been printed')
            [CompletionResult]::new('--max-records', '--max-records', [CompletionResultType]::ParameterName, 'Exit after this many records have been printed')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Read only this shard (repeatable)')
            [CompletionResult]::new('--shard-key', '--shard-key', [CompletionResultType]::ParameterName, 'Read only the shard that holds this partition key (and its children after a reshard)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-g', '-g', [CompletionResultType]::ParameterName, 'Print only records matching this regex (repeatable: any may match)')
            [CompletionResult]::new('--grep', '--grep', [CompletionResultType]::ParameterName, 'Print only records matching this regex (repeatable: any may match)')
            [CompletionResult]::new('--filter-pattern', '--filter-pattern', [CompletionResultType]::ParameterName, 'Print only records matching this CloudWatch Logs filter pattern (with -g: both must match)')
            [CompletionResult]::new('--decode', '--decode', [CompletionResultType]::ParameterName, 'Decompress records and split CloudWatch Logs envelopes into their log events')
            [CompletionResult]::new('--max-decoded-size', '--max-decoded-size', [CompletionResultType]::ParameterName, 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored')
            [CompletionResult]::new('--poll-interval', '--poll-interval', [CompletionResultType]::ParameterName, 'How often a caught-up shard is polled (at least 200ms)')
            [CompletionResult]::new('--max-read-rate', '--max-read-rate', [CompletionResultType]::ParameterName, 'GetRecords calls per second per shard, at most (more than 0, at most 5)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('--oldest', '--oldest', [CompletionResultType]::ParameterName, 'Start at the oldest record the stream still holds (TRIM_HORIZON)')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Exit once every shard is caught up instead of following')
            [CompletionResult]::new('--no-follow', '--no-follow', [CompletionResultType]::ParameterName, 'Exit once every shard is caught up instead of following')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Prefix each line with the record''s approximate arrival time')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Prefix each line with its shard id (coloured per shard on a terminal)')
            [CompletionResult]::new('--lf', '--lf', [CompletionResultType]::ParameterName, 'Accepted for kinesis-tailf users; line mode already ends records with a newline')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print only records that match none of the patterns (needs -g)')
            [CompletionResult]::new('--invert-match', '--invert-match', [CompletionResultType]::ParameterName, 'Print only records that match none of the patterns (needs -g)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--ignore-case', '--ignore-case', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--no-deaggregate', '--no-deaggregate', [CompletionResultType]::ParameterName, 'Show KPL-aggregated records as stored instead of de-aggregating them')
            [CompletionResult]::new('--efo', '--efo', [CompletionResultType]::ParameterName, 'Read with enhanced fan-out (a registered consumer, pushed records, ~70 ms lag)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;grep' {
            [CompletionResult]::new('--filter-pattern', '--filter-pattern', [CompletionResultType]::ParameterName, 'Match with this CloudWatch Logs filter pattern instead of a regex PATTERN')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time')
            [CompletionResult]::new('--decode', '--decode', [CompletionResultType]::ParameterName, 'Decompress records and split CloudWatch Logs envelopes into their log events')
            [CompletionResult]::new('--max-decoded-size', '--max-decoded-size', [CompletionResultType]::ParameterName, 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Use this IAM role for the function instead of one ktail creates')
            [CompletionResult]::new('--arch', '--arch', [CompletionResultType]::ParameterName, 'CPU architecture of the function')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Function memory in MB')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Concurrent batches per shard (the mapping''s ParallelizationFactor)')
            [CompletionResult]::new('--output-stream', '--output-stream', [CompletionResultType]::ParameterName, 'Name of the filtered output stream (default: derived from the stream and pattern)')
            [CompletionResult]::new('--output-shards', '--output-shards', [CompletionResultType]::ParameterName, 'Shards of a newly created output stream')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Dead-client guard: the function stops forwarding and disables its own mapping this long after the last renewal. `grep` defaults to 1h and renews it while the session lives; `attach` sets no expiry unless given one')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit after this many records have been printed')
            [CompletionResult]::new('--max-records', '--max-records', [CompletionResultType]::ParameterName, 'Exit after this many records have been printed')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('--invert-match', '--invert-match', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--ignore-case', '--ignore-case', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--oldest', '--oldest', [CompletionResultType]::ParameterName, 'Start at the oldest record the stream still holds (TRIM_HORIZON)')
            [CompletionResult]::new('--on-demand', '--on-demand', [CompletionResultType]::ParameterName, 'Create the output stream in on-demand mode')
            [CompletionResult]::new('--efo', '--efo', [CompletionResultType]::ParameterName, 'The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms instead of ~1 s, none of the 5 reads per second each shard shares); billed per consumer-shard-hour and GB. See the README')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Prefix each line with the record''s approximate arrival time')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Prefix each line with its shard id (coloured per shard on a terminal)')
            [CompletionResult]::new('--lf', '--lf', [CompletionResultType]::ParameterName, 'Accepted for kinesis-tailf users; line mode already ends records with a newline')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the output stream (and function) on exit for a quick re-run; the mapping is always removed')
            [CompletionResult]::new('--local', '--local', [CompletionResultType]::ParameterName, 'No Lambda: tail the source stream and filter on this machine')
            [CompletionResult]::new('--tail-polling', '--tail-polling', [CompletionResultType]::ParameterName, 'With --efo: tail the output stream by polling (GetRecords) instead of through a second enhanced fan-out consumer')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;attach' {
            [CompletionResult]::new('--filter-pattern', '--filter-pattern', [CompletionResultType]::ParameterName, 'Match with this CloudWatch Logs filter pattern instead of a regex PATTERN')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time')
            [CompletionResult]::new('--decode', '--decode', [CompletionResultType]::ParameterName, 'Decompress records and split CloudWatch Logs envelopes into their log events')
            [CompletionResult]::new('--max-decoded-size', '--max-decoded-size', [CompletionResultType]::ParameterName, 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Use this IAM role for the function instead of one ktail creates')
            [CompletionResult]::new('--arch', '--arch', [CompletionResultType]::ParameterName, 'CPU architecture of the function')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Function memory in MB')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Concurrent batches per shard (the mapping''s ParallelizationFactor)')
            [CompletionResult]::new('--output-stream', '--output-stream', [CompletionResultType]::ParameterName, 'Name of the filtered output stream (default: derived from the stream and pattern)')
            [CompletionResult]::new('--output-shards', '--output-shards', [CompletionResultType]::ParameterName, 'Shards of a newly created output stream')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Dead-client guard: the function stops forwarding and disables its own mapping this long after the last renewal. `grep` defaults to 1h and renews it while the session lives; `attach` sets no expiry unless given one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('--invert-match', '--invert-match', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--ignore-case', '--ignore-case', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--oldest', '--oldest', [CompletionResultType]::ParameterName, 'Start at the oldest record the stream still holds (TRIM_HORIZON)')
            [CompletionResult]::new('--on-demand', '--on-demand', [CompletionResultType]::ParameterName, 'Create the output stream in on-demand mode')
            [CompletionResult]::new('--efo', '--efo', [CompletionResultType]::ParameterName, 'The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms instead of ~1 s, none of the 5 reads per second each shard shares); billed per consumer-shard-hour and GB. See the README')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;detach' {
            [CompletionResult]::new('--filter-pattern', '--filter-pattern', [CompletionResultType]::ParameterName, 'The filter pattern given to `attach --filter-pattern`')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('--invert-match', '--invert-match', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--ignore-case', '--ignore-case', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Remove every grep ktail attached to the stream')
            [CompletionResult]::new('--purge', '--purge', [CompletionResultType]::ParameterName, 'Also delete the function, output stream and role that ktail created')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;put' {
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Read lines from this file instead of stdin')
            [CompletionResult]::new('--partition-key', '--partition-key', [CompletionResultType]::ParameterName, 'Partition key for every record (default: a random key per record)')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Compress each record (each aggregate with --aggregate), as many producers do')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('--aggregate', '--aggregate', [CompletionResultType]::ParameterName, 'Pack lines into KPL-aggregated records')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;completions' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;alias' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;demo' {
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit after this many records have been printed')
            [CompletionResult]::new('--max-records', '--max-records', [CompletionResultType]::ParameterName, 'Exit after this many records have been printed')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port of the embedded Kinesis on 127.0.0.1 (with --serve)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('--invert-match', '--invert-match', [CompletionResultType]::ParameterName, 'Forward records that do NOT match')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--ignore-case', '--ignore-case', [CompletionResultType]::ParameterName, 'Match regardless of case')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Prefix each line with the record''s approximate arrival time')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Prefix each line with its shard id (coloured per shard on a terminal)')
            [CompletionResult]::new('--lf', '--lf', [CompletionResultType]::ParameterName, 'Accepted for kinesis-tailf users; line mode already ends records with a newline')
            [CompletionResult]::new('--serve', '--serve', [CompletionResultType]::ParameterName, 'Only keep the embedded Kinesis and its traffic running, for other ktail commands')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write ktail.1 and ktail-SUBCOMMAND.1 into this directory instead of printing ktail.1')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile to use (default: $AWS_PROFILE, then "default")')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Send every AWS call to this endpoint, e.g. a local emulator')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr but errors')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Log AWS SDK activity to stderr (credentials are never logged)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ktail;help' {
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow every shard of a stream, like `tail -f`')
            [CompletionResult]::new('grep', 'grep', [CompletionResultType]::ParameterValue, 'Filter a stream on the server side and tail the matches; cleans up on exit')
            [CompletionResult]::new('attach', 'attach', [CompletionResultType]::ParameterValue, 'Deploy the grep Lambda and wire it to a stream; prints the filtered stream''s name')
            [CompletionResult]::new('detach', 'detach', [CompletionResultType]::ParameterValue, 'Remove what `ktail attach` wired to a stream')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'List every grep ktail has attached in this region')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the streams in this region')
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Send lines from stdin (or a file) to a stream as records')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('alias', 'alias', [CompletionResultType]::ParameterValue, 'Print the AWS CLI alias line that makes `aws ktail …` work')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one per subcommand into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ktail;help;tail' {
            break
        }
        'ktail;help;grep' {
            break
        }
        'ktail;help;attach' {
            break
        }
        'ktail;help;detach' {
            break
        }
        'ktail;help;status' {
            break
        }
        'ktail;help;ls' {
            break
        }
        'ktail;help;put' {
            break
        }
        'ktail;help;completions' {
            break
        }
        'ktail;help;alias' {
            break
        }
        'ktail;help;demo' {
            break
        }
        'ktail;help;man' {
            break
        }
        'ktail;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
