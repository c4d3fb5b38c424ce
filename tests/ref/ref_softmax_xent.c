#include "ref/ref_softmax_xent.h"

#include <math.h>

void ref_softmax_xent(double *loss, double *dlogits, int *correct, const double *logits,
                      const int *labels, int n, int k)
{
    double sum = 0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        const double *x = logits + (size_t)i * k;
        int label = labels[i];
        int valid = label >= 0 && label < k;
        double m = x[0];
        int am = 0;
        for (int j = 1; j < k; j++)
            if (x[j] > m) m = x[j], am = j;
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(x[j] - m);
        double lse = m + log(s);
        sum += valid ? lse - x[label] : NAN;
        hits += valid && am == label;
        if (dlogits)
            for (int j = 0; j < k; j++)
                dlogits[(size_t)i * k + j] =
                    valid ? (exp(x[j] - m) / s - (j == label)) / n : NAN;
    }
    *loss = sum / n;
    if (correct) *correct = hits;
}
