/* The progress bar of resnet-cl train and resnet-cl-tune: drawn on one
 * terminal line, redrawn in place; nothing where the stream is not a
 * terminal (logs and tests see only the lines the programs print). */
#ifndef RCL_PROGRESS_H
#define RCL_PROGRESS_H

#include <stdio.h>

typedef struct cli_progress {
    FILE *f;
    int tty;            /* f is a terminal: the bar is drawn */
    const char *label;  /* before the bar; NULL: none */
    const char *unit;   /* the rate's unit ("img/s"); NULL: no rate */
    double t0;          /* cli_progress_start's time */
    double t_drawn;     /* last redraw, -1: none since start or clear */
    int drawn;          /* the bar is on the line */
    int pending;        /* the last update was not drawn (too soon) */
    long done, total;   /* the last update's state */
    double items;
    char extra[96];
} cli_progress;

/* Start a bar on f (stdout or stderr). Where f is not a terminal a labelled
 * bar prints "label ...\n" once and nothing more. `unit`: what
 * cli_progress_update's `items` count, per second ("img/s"); NULL: no
 * rate. label and unit must outlive the bar. */
void cli_progress_start(cli_progress *p, FILE *f, const char *label, const char *unit);
/* done of total steps; `items`: how many of the rate's things since start;
 * `extra`: text after the rate (NULL: none). Redraws at most 10 times a
 * second, but always the first time and when done == total. */
void cli_progress_update(cli_progress *p, long done, long total, double items, const char *extra);
/* Erase the bar, so that a line can be printed; the next update draws it
 * again. */
void cli_progress_clear(cli_progress *p);
/* End the bar: keep its last state (the last update's, drawn or not) as a
 * line of its own (keep), or erase it. */
void cli_progress_finish(cli_progress *p, int keep);

#endif
