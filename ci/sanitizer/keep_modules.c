/* LD_PRELOAD shim for the sanitizer job (ci/sanitize.sh) only: dlclose()
 * does nothing, so the OpenCL drivers that the ICD loader unloads at exit
 * stay mapped until LeakSanitizer runs. Without it their leaks are
 * reported as "<unknown module>" and cannot be attributed (or suppressed
 * by library name) in ci/sanitizer/lsan.supp. Never part of the build. */
int dlclose(void *handle);
int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
