/* Shared by the streaming-data commands (bench-loader, mean-image): the
 * --data options, opening the index with one line about it, and the report
 * of the files an epoch skipped. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int cli_index_open(const cli_index_args *a, rcl_file_index *ix)
{
    const char *split = a->split;
    if (!split) {   /* DIR/train when there is one, else DIR itself */
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/train", a->data);
        split = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? "train" : "";
    }
    rcl_index_options o = {.cache_dir = a->cache_dir, .classes_file = a->classes_file,
                           .no_cache = a->no_cache};
    double t0 = cli_now_s();
    int st = rcl_file_index_open(ix, a->data, split, &o);
    if (st != RCL_OK) {
        cli_report("reading the data", st);
        return 1;
    }
    fprintf(stderr,
            "resnet-cl: %s: %d files, %d of %d classes (labels from %s); index %s in %.2f s%s%s\n",
            ix->dir, ix->n, ix->classes_present, ix->num_classes, ix->class_source,
            ix->from_cache ? "read from the cache" : "built", cli_now_s() - t0,
            ix->cache_path ? ", " : " (not cached)", ix->cache_path ? ix->cache_path : "");
    return 0;
}

void cli_report_skipped(const rcl_stream *s, const char *when)
{
    rcl_stream_stats st;
    rcl_stream_stats_get(s, &st);
    if (st.skipped == 0) return;
    const char *line;
    for (int i = 0; (line = rcl_stream_skipped(s, i)) != NULL; i++)
        fprintf(stderr, "resnet-cl: skipped %s\n", line);
    fprintf(stderr,
            "resnet-cl: %s: %lld undecodable file%s skipped (--strict-data stops at the first "
            "instead)\n",
            when, (long long)st.skipped, st.skipped == 1 ? "" : "s");
}
