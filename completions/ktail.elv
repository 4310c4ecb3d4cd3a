
use builtin;
use str;

set edit:completion:arg-completer[ktail] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'ktail'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'ktail'= {
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand tail 'Follow every shard of a stream, like `tail -f`'
            cand grep 'Filter a stream on the server side and tail the matches; cleans up on exit'
            cand attach 'Deploy the grep Lambda and wire it to a stream; prints the filtered stream''s name'
            cand detach 'Remove what `ktail attach` wired to a stream'
            cand status 'List every grep ktail has attached in this region'
            cand ls 'List the streams in this region'
            cand put 'Send lines from stdin (or a file) to a stream as records'
            cand completions 'Print a shell completion script'
            cand alias 'Print the AWS CLI alias line that makes `aws ktail …` work'
            cand demo 'Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs'
            cand man 'Print the man page, or write one per subcommand into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ktail;tail'= {
            cand --since 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time'
            cand --start 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time'
            cand --until 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)'
            cand --end 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)'
            cand -n 'Exit after this many records have been printed'
            cand --max-records 'Exit after this many records have been printed'
            cand --shard 'Read only this shard (repeatable)'
            cand --shard-key 'Read only the shard that holds this partition key (and its children after a reshard)'
            cand -o 'Output format'
            cand --output 'Output format'
            cand -g 'Print only records matching this regex (repeatable: any may match)'
            cand --grep 'Print only records matching this regex (repeatable: any may match)'
            cand --filter-pattern 'Print only records matching this CloudWatch Logs filter pattern (with -g: both must match)'
            cand --decode 'Decompress records and split CloudWatch Logs envelopes into their log events'
            cand --max-decoded-size 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored'
            cand --poll-interval 'How often a caught-up shard is polled (at least 200ms)'
            cand --max-read-rate 'GetRecords calls per second per shard, at most (more than 0, at most 5)'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand --oldest 'Start at the oldest record the stream still holds (TRIM_HORIZON)'
            cand -e 'Exit once every shard is caught up instead of following'
            cand --no-follow 'Exit once every shard is caught up instead of following'
            cand --timestamps 'Prefix each line with the record''s approximate arrival time'
            cand --prefix 'Prefix each line with its shard id (coloured per shard on a terminal)'
            cand --lf 'Accepted for kinesis-tailf users; line mode already ends records with a newline'
            cand -v 'Print only records that match none of the patterns (needs -g)'
            cand --invert-match 'Print only records that match none of the patterns (needs -g)'
            cand -i 'Match regardless of case'
            cand --ignore-case 'Match regardless of case'
            cand --no-deaggregate 'Show KPL-aggregated records as stored instead of de-aggregating them'
            cand --efo 'Read with enhanced fan-out (a registered consumer, pushed records, ~70 ms lag)'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;grep'= {
            cand --filter-pattern 'Match with this CloudWatch Logs filter pattern instead of a regex PATTERN'
            cand --since 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time'
            cand --start 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time'
            cand --decode 'Decompress records and split CloudWatch Logs envelopes into their log events'
            cand --max-decoded-size 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored'
            cand --role 'Use this IAM role for the function instead of one ktail creates'
            cand --arch 'CPU architecture of the function'
            cand --memory 'Function memory in MB'
            cand --parallel 'Concurrent batches per shard (the mapping''s ParallelizationFactor)'
            cand --output-stream 'Name of the filtered output stream (default: derived from the stream and pattern)'
            cand --output-shards 'Shards of a newly created output stream'
            cand --ttl 'Dead-client guard: the function stops forwarding and disables its own mapping this long after the last renewal. `grep` defaults to 1h and renews it while the session lives; `attach` sets no expiry unless given one'
            cand --until 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)'
            cand --end 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)'
            cand -n 'Exit after this many records have been printed'
            cand --max-records 'Exit after this many records have been printed'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -v 'Forward records that do NOT match'
            cand --invert-match 'Forward records that do NOT match'
            cand -i 'Match regardless of case'
            cand --ignore-case 'Match regardless of case'
            cand --oldest 'Start at the oldest record the stream still holds (TRIM_HORIZON)'
            cand --on-demand 'Create the output stream in on-demand mode'
            cand --efo 'The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms instead of ~1 s, none of the 5 reads per second each shard shares); billed per consumer-shard-hour and GB. See the README'
            cand --timestamps 'Prefix each line with the record''s approximate arrival time'
            cand --prefix 'Prefix each line with its shard id (coloured per shard on a terminal)'
            cand --lf 'Accepted for kinesis-tailf users; line mode already ends records with a newline'
            cand --keep 'Keep the output stream (and function) on exit for a quick re-run; the mapping is always removed'
            cand --local 'No Lambda: tail the source stream and filter on this machine'
            cand --tail-polling 'With --efo: tail the output stream by polling (GetRecords) instead of through a second enhanced fan-out consumer'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;attach'= {
            cand --filter-pattern 'Match with this CloudWatch Logs filter pattern instead of a regex PATTERN'
            cand --since 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time'
            cand --start 'Start at a point in time: a duration ago (30s, 5m, 1h30m), RFC 3339, or a local date-time'
            cand --decode 'Decompress records and split CloudWatch Logs envelopes into their log events'
            cand --max-decoded-size 'The most one record may decompress to (e.g. 64MiB, 512KiB, 1000000); a record past it passes through as stored'
            cand --role 'Use this IAM role for the function instead of one ktail creates'
            cand --arch 'CPU architecture of the function'
            cand --memory 'Function memory in MB'
            cand --parallel 'Concurrent batches per shard (the mapping''s ParallelizationFactor)'
            cand --output-stream 'Name of the filtered output stream (default: derived from the stream and pattern)'
            cand --output-shards 'Shards of a newly created output stream'
            cand --ttl 'Dead-client guard: the function stops forwarding and disables its own mapping this long after the last renewal. `grep` defaults to 1h and renews it while the session lives; `attach` sets no expiry unless given one'
            cand -o 'Report format'
            cand --output 'Report format'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -v 'Forward records that do NOT match'
            cand --invert-match 'Forward records that do NOT match'
            cand -i 'Match regardless of case'
            cand --ignore-case 'Match regardless of case'
            cand --oldest 'Start at the oldest record the stream still holds (TRIM_HORIZON)'
            cand --on-demand 'Create the output stream in on-demand mode'
            cand --efo 'The mapping reads through an enhanced fan-out consumer of its own (pushed records, ~70 ms instead of ~1 s, none of the 5 reads per second each shard shares); billed per consumer-shard-hour and GB. See the README'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;detach'= {
            cand --filter-pattern 'The filter pattern given to `attach --filter-pattern`'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -v 'Forward records that do NOT match'
            cand --invert-match 'Forward records that do NOT match'
            cand -i 'Match regardless of case'
            cand --ignore-case 'Match regardless of case'
            cand --all 'Remove every grep ktail attached to the stream'
            cand --purge 'Also delete the function, output stream and role that ktail created'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;status'= {
            cand -o 'Report format'
            cand --output 'Report format'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;ls'= {
            cand -o 'Report format'
            cand --output 'Report format'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;put'= {
            cand --file 'Read lines from this file instead of stdin'
            cand --partition-key 'Partition key for every record (default: a random key per record)'
            cand --compress 'Compress each record (each aggregate with --aggregate), as many producers do'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand --aggregate 'Pack lines into KPL-aggregated records'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;completions'= {
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;alias'= {
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;demo'= {
            cand --until 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)'
            cand --end 'Stop at records that arrived after this time (a duration from now, RFC 3339, or local)'
            cand -n 'Exit after this many records have been printed'
            cand --max-records 'Exit after this many records have been printed'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --port 'Port of the embedded Kinesis on 127.0.0.1 (with --serve)'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -v 'Forward records that do NOT match'
            cand --invert-match 'Forward records that do NOT match'
            cand -i 'Match regardless of case'
            cand --ignore-case 'Match regardless of case'
            cand --timestamps 'Prefix each line with the record''s approximate arrival time'
            cand --prefix 'Prefix each line with its shard id (coloured per shard on a terminal)'
            cand --lf 'Accepted for kinesis-tailf users; line mode already ends records with a newline'
            cand --serve 'Only keep the embedded Kinesis and its traffic running, for other ktail commands'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;man'= {
            cand --dir 'Write ktail.1 and ktail-SUBCOMMAND.1 into this directory instead of printing ktail.1'
            cand --profile 'AWS profile to use (default: $AWS_PROFILE, then "default")'
            cand --region 'AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile''s region)'
            cand --endpoint-url 'Send every AWS call to this endpoint, e.g. a local emulator'
            cand --color 'When to colour output'
            cand -q 'Print nothing on stderr but errors'
            cand --quiet 'Print nothing on stderr but errors'
            cand --debug 'Log AWS SDK activity to stderr (credentials are never logged)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ktail;help'= {
            cand tail 'Follow every shard of a stream, like `tail -f`'
            cand grep 'Filter a stream on the server side and tail the matches; cleans up on exit'
            cand attach 'Deploy the grep Lambda and wire it to a stream; prints the filtered stream''s name'
            cand detach 'Remove what `ktail attach` wired to a stream'
            cand status 'List every grep ktail has attached in this region'
            cand ls 'List the streams in this region'
            cand put 'Send lines from stdin (or a file) to a stream as records'
            cand completions 'Print a shell completion script'
            cand alias 'Print the AWS CLI alias line that makes `aws ktail …` work'
            cand demo 'Try ktail without AWS: the grep flow on an embedded Kinesis with live web access logs'
            cand man 'Print the man page, or write one per subcommand into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ktail;help;tail'= {
        }
        &'ktail;help;grep'= {
        }
        &'ktail;help;attach'= {
        }
        &'ktail;help;detach'= {
        }
        &'ktail;help;status'= {
        }
        &'ktail;help;ls'= {
        }
        &'ktail;help;put'= {
        }
        &'ktail;help;completions'= {
        }
        &'ktail;help;alias'= {
        }
        &'ktail;help;demo'= {
        }
        &'ktail;help;man'= {
        }
        &'ktail;help;help'= {
        }
    ]
    $completions[$command]
}
