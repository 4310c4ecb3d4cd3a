# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ktail_global_optspecs
    string join \n profile= region= endpoint-url= color= q/quiet debug h/help V/version
end

function __fish_ktail_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ktail_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ktail_using_subcommand
    set -l cmd (__fish_ktail_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ktail -n "__fish_ktail_needs_command" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_needs_command" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_needs_command" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_needs_command" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_needs_command" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_needs_command" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_needs_command" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "tail" -d 'Follow every shard of a stream, like `tail -f`'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "grep" -d 'Filter a stream on the server side and tail the matches; cleans up on exit'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "attach" -d 'Deploy the grep Lambda and wire it to a stream; prints the filtered stream\'s name'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "detach" -d 'Remove what `ktail attach` wired to a stream'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "status" -d 'List every grep ktail has attached in this region'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "ls" -d 'List the streams in this region'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "put" -d 'Send lines from stdin (or a file) to a stream as records'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "alias" -d 'Print the AWS CLI alias line that makes `aws ktail …` work'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "demo" -d 'Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "man" -d 'Print the man page, or write one per subcommand into a directory'
complete -c ktail -n "__fish_ktail_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l since -l start -d 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l until -l end -d 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s n -l max-records -d 'Exit after this many records have been printed' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l shard -d 'Read only this shard (repeatable)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l shard-key -d 'Read only the shard that holds this partition key (and its children after a reshard)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s o -l output -d 'Output format' -r -f -a "line\t'Each record\'s data followed by a newline unless it already ends with one'
raw\t'Each record\'s bytes exactly as stored'
json\t'One JSON object per record: stream, shard, sequence, sub_sequence, partition_key, arrival, data'"
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s g -l grep -d 'Print only records matching this regex (repeatable: any may match)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l filter-pattern -d 'Print only records matching this CloudWatch Logs filter pattern (with -g: both must match)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l decode -d 'Decompress records and split CloudWatch Logs envelopes into their log events' -r -f -a "auto\t'Recognise gzip, zlib and zstd by their first bytes, then CloudWatch Logs envelopes'
none\t'The bytes as stored'
gzip\t'Every record is gzip'
zlib\t'Every record is zlib'
zstd\t'Every record is zstd'"
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l max-decoded-size -d 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l poll-interval -d 'How often a caught-up shard is polled (at least 200ms)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l max-read-rate -d 'GetRecords calls per second per shard, at most (more than 0, at most 5)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l oldest -d 'Start at the oldest record the stream still holds (TRIM_HORIZON)'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s e -l no-follow -d 'Exit once every shard is caught up instead of following'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l timestamps -d 'Prefix each line with the record\'s approximate arrival time'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l prefix -d 'Prefix each line with its shard id (coloured per shard on a terminal)'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l lf -d 'Accepted for kinesis-tailf users; line mode already ends records with a newline'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s v -l invert-match -d 'Print only records that match none of the patterns (needs -g)'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s i -l ignore-case -d 'Match regardless of case'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l no-deaggregate -d 'Show KPL-aggregated records as stored instead of de-aggregating them'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l efo -d 'Read with enhanced fan-out (a registered consumer, pushed records, ~70 ms lag)'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand tail" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l filter-pattern -d 'Match with this CloudWatch Logs filter pattern instead of a regex PATTERN' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l since -l start -d 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l decode -d 'Decompress records and split CloudWatch Logs envelopes into their log events' -r -f -a "auto\t'Recognise gzip, zlib and zstd by their first bytes, then CloudWatch Logs envelopes'
none\t'The bytes as stored'
gzip\t'Every record is gzip'
zlib\t'Every record is zlib'
zstd\t'Every record is zstd'"
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l max-decoded-size -d 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l role -d 'Use this IAM role for the function instead of one ktail creates' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l arch -d 'CPU architecture of the function' -r -f -a "arm64\t'Graviton: about 20% cheaper per GB-second'
x86_64\t''"
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l memory -d 'Function memory in MB' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l parallel -d 'Concurrent batches per shard (the mapping\'s ParallelizationFactor)' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l output-stream -d 'Name of the filtered output stream (default: derived from the stream and pattern)' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l output-shards -d 'Shards of a newly created output stream' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l ttl -d 'Dead-client guard: the function stops forwarding and disables its own mapping this long after the last renewal. `grep` defaults to 1h and renews it while the session lives; `attach` sets no expiry unless given one' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l until -l end -d 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s n -l max-records -d 'Exit after this many records have been printed' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s o -l output -d 'Output format' -r -f -a "line\t'Each record\'s data followed by a newline unless it already ends with one'
raw\t'Each record\'s bytes exactly as stored'
json\t'One JSON object per record: stream, shard, sequence, sub_sequence, partition_key, arrival, data'"
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s v -l invert-match -d 'Forward records that do NOT match'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s i -l ignore-case -d 'Match regardless of case'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l oldest -d 'Start at the oldest record the stream still holds (TRIM_HORIZON)'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l on-demand -d 'Create the output stream in on-demand mode'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l efo -d 'The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms instead of ~1 s, none of the 5 reads per second each shard shares); billed per consumer-shard-hour and GB. See the README'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l timestamps -d 'Prefix each line with the record\'s approximate arrival time'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l prefix -d 'Prefix each line with its shard id (coloured per shard on a terminal)'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l lf -d 'Accepted for kinesis-tailf users; line mode already ends records with a newline'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l keep -d 'Keep the output stream (and function) on exit for a quick re-run; the mapping is always removed'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l local -d 'No Lambda: tail the source stream and filter on this machine'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l tail-polling -d 'With --efo: tail the output stream by polling (GetRecords) instead of through a second enhanced fan-out consumer'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand grep" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l filter-pattern -d 'Match with this CloudWatch Logs filter pattern instead of a regex PATTERN' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l since -l start -d 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l decode -d 'Decompress records and split CloudWatch Logs envelopes into their log events' -r -f -a "auto\t'Recognise gzip, zlib and zstd by their first bytes, then CloudWatch Logs envelopes'
none\t'The bytes as stored'
gzip\t'Every record is gzip'
zlib\t'Every record is zlib'
zstd\t'Every record is zstd'"
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l max-decoded-size -d 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l role -d 'Use this IAM role for the function instead of one ktail creates' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l arch -d 'CPU architecture of the function' -r -f -a "arm64\t'Graviton: about 20% cheaper per GB-second'
x86_64\t''"
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l memory -d 'Function memory in MB' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l parallel -d 'Concurrent batches per shard (the mapping\'s ParallelizationFactor)' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l output-stream -d 'Name of the filtered output stream (default: derived from the stream and pattern)' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l output-shards -d 'Shards of a newly created output stream' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l ttl -d 'Dead-client guard: the function stops forwarding and disables its own mapping this long after the last renewal. `grep` defaults to 1h and renews it while the session lives; `attach` sets no expiry unless given one' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -s o -l output -d 'Report format' -r -f -a "text\t'Aligned columns for people'
json\t'JSON for scripts'"
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand attach" -s v -l invert-match -d 'Forward records that do NOT match'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -s i -l ignore-case -d 'Match regardless of case'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l oldest -d 'Start at the oldest record the stream still holds (TRIM_HORIZON)'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l on-demand -d 'Create the output stream in on-demand mode'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l efo -d 'The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms instead of ~1 s, none of the 5 reads per second each shard shares); billed per consumer-shard-hour and GB. See the README'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand attach" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l filter-pattern -d 'The filter pattern given to `attach --filter-pattern`' -r
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand detach" -s v -l invert-match -d 'Forward records that do NOT match'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -s i -l ignore-case -d 'Match regardless of case'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l all -d 'Remove every grep ktail attached to the stream'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l purge -d 'Also delete the function, output stream and role that ktail created'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand detach" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand status" -s o -l output -d 'Report format' -r -f -a "text\t'Aligned columns for people'
json\t'JSON for scripts'"
complete -c ktail -n "__fish_ktail_using_subcommand status" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand status" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand status" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand status" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand status" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand status" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand status" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand ls" -s o -l output -d 'Report format' -r -f -a "text\t'Aligned columns for people'
json\t'JSON for scripts'"
complete -c ktail -n "__fish_ktail_using_subcommand ls" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand ls" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand ls" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand ls" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand ls" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand ls" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand ls" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand put" -l file -d 'Read lines from this file instead of stdin' -r -F
complete -c ktail -n "__fish_ktail_using_subcommand put" -l partition-key -d 'Partition key for every record (default: a random key per record)' -r
complete -c ktail -n "__fish_ktail_using_subcommand put" -l compress -d 'Compress each record (each aggregate with --aggregate), as many producers do' -r -f -a "gzip\t''
zlib\t''
zstd\t''"
complete -c ktail -n "__fish_ktail_using_subcommand put" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand put" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand put" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand put" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand put" -l aggregate -d 'Pack lines into KPL-aggregated records'
complete -c ktail -n "__fish_ktail_using_subcommand put" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand put" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand put" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand put" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand completions" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand completions" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand completions" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand completions" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand completions" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand completions" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand completions" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand alias" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand alias" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand alias" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand alias" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand alias" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand alias" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand alias" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand alias" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l until -l end -d 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)' -r
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s n -l max-records -d 'Exit after this many records have been printed' -r
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s o -l output -d 'Output format' -r -f -a "line\t'Each record\'s data followed by a newline unless it already ends with one'
raw\t'Each record\'s bytes exactly as stored'
json\t'One JSON object per record: stream, shard, sequence, sub_sequence, partition_key, arrival, data'"
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l port -d 'Port of the embedded Kinesis on 127.0.0.1 (with --serve)' -r
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s v -l invert-match -d 'Forward records that do NOT match'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s i -l ignore-case -d 'Match regardless of case'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l timestamps -d 'Prefix each line with the record\'s approximate arrival time'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l prefix -d 'Prefix each line with its shard id (coloured per shard on a terminal)'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l lf -d 'Accepted for kinesis-tailf users; line mode already ends records with a newline'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l serve -d 'Only keep the embedded Kinesis and its traffic running, for other ktail commands'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand demo" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand man" -l dir -d 'Write ktail.1 and ktail-SUBCOMMAND.1 into this directory instead of printing ktail.1' -r -F
complete -c ktail -n "__fish_ktail_using_subcommand man" -l profile -d 'AWS profile to use (default: $AWS_PROFILE, then "default")' -r
complete -c ktail -n "__fish_ktail_using_subcommand man" -l region -d 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile\'s region)' -r
complete -c ktail -n "__fish_ktail_using_subcommand man" -l endpoint-url -d 'Send every AWS call to this endpoint, e.g. a local emulator' -r
complete -c ktail -n "__fish_ktail_using_subcommand man" -l color -d 'When to colour output' -r -f -a "auto\t'Colour when stdout is a terminal and $NO_COLOR is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c ktail -n "__fish_ktail_using_subcommand man" -s q -l quiet -d 'Print nothing on stderr but errors'
complete -c ktail -n "__fish_ktail_using_subcommand man" -l debug -d 'Log AWS SDK activity to stderr (credentials are never logged)'
complete -c ktail -n "__fish_ktail_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ktail -n "__fish_ktail_using_subcommand man" -s V -l version -d 'Print version'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "tail" -d 'Follow every shard of a stream, like `tail -f`'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "grep" -d 'Filter a stream on the server side and tail the matches; cleans up on exit'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "attach" -d 'Deploy the grep Lambda and wire it to a stream; prints the filtered stream\'s name'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "detach" -d 'Remove what `ktail attach` wired to a stream'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "status" -d 'List every grep ktail has attached in this region'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "ls" -d 'List the streams in this region'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "put" -d 'Send lines from stdin (or a file) to a stream as records'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "completions" -d 'Print a shell completion script'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "alias" -d 'Print the AWS CLI alias line that makes `aws ktail …` work'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "demo" -d 'Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "man" -d 'Print the man page, or write one per subcommand into a directory'
complete -c ktail -n "__fish_ktail_using_subcommand help; and not __fish_seen_subcommand_from tail grep attach detach status ls put completions alias demo man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
