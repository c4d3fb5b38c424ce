/* One progress bar for resnet-cl train and resnet-cl-tune (progress.h). */
#include "tools/progress.h"
#include "base/base.h"

#include <unistd.h>

#define BAR_WIDTH 30

void cli_progress_start(cli_progress *p, FILE *f, const char *label, const char *unit)
{
    p->f = f;
    p->tty = isatty(fileno(f));
    p->label = label;
    p->unit = unit;
    p->t0 = rcl_now_s();
    p->t_drawn = -1;
    p->drawn = 0;
    p->pending = 0;
    if (!p->tty && label) {
        fprintf(f, "%s ...\n", label);
        fflush(f);
    }
}

static void draw(cli_progress *p)
{
    double t = rcl_now_s();
    long done = p->done, total = p->total;
    p->t_drawn = t;
    p->pending = 0;
    int fill = total > 0 ? (int)(done * BAR_WIDTH / total) : 0;
    if (fill > BAR_WIDTH) fill = BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[BAR_WIDTH] = 0;
    if (p->label) fprintf(p->f, "\r%-24.34s [%s] %ld/%ld", p->label, bar, done, total);
    else fprintf(p->f, "\r  [%s] %ld/%ld", bar, done, total);
    if (p->unit && t > p->t0) fprintf(p->f, "  %.1f %s", p->items / (t - p->t0), p->unit);
    if (p->extra[0]) fprintf(p->f, "  %s", p->extra);
    fprintf(p->f, " \033[K"); /* and what a longer line left behind */
    fflush(p->f);
    p->drawn = 1;
}

void cli_progress_update(cli_progress *p, long done, long total, double items, const char *extra)
{
    if (!p->tty) return;
    p->done = done;
    p->total = total;
    p->items = items;
    snprintf(p->extra, sizeof p->extra, "%s", extra ? extra : "");
    p->pending = 1;
    if (p->t_drawn >= 0 && rcl_now_s() - p->t_drawn < 0.1 && done < total) return;
    draw(p);
}

void cli_progress_clear(cli_progress *p)
{
    if (!p->tty || !p->drawn) return;
    fprintf(p->f, "\r\033[K");
    fflush(p->f);
    p->drawn = 0;
    p->pending = 0;
    p->t_drawn = -1;
}

void cli_progress_finish(cli_progress *p, int keep)
{
    if (!p->tty) return;
    if (keep && p->pending) draw(p);
    if (!p->drawn) return;
    if (keep) fprintf(p->f, "\n");
    else fprintf(p->f, "\r\033[K");
    fflush(p->f);
    p->drawn = 0;
}
