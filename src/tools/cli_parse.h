/* Strict number parsing shared by resnet-cl and resnet-cl-tune. */
#ifndef RCL_CLI_PARSE_H
#define RCL_CLI_PARSE_H

/* Parse a decimal integer in [lo, hi]; 0 on success, -1 otherwise. */
int cli_parse_int(const char *s, long lo, long hi, int *out);
/* Parse a finite number; 0 on success, -1 otherwise. */
int cli_parse_float(const char *s, float *out);

#endif
