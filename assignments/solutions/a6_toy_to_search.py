"""Reference solution of assignment 6's toy part (students: try it yourself first)."""

PREDICTION = 'rmsprop'
REASON = ('Second order stops at alpha = 2 / (1 + 2 xi c), further from first order the larger xi c. With each '
          "optimizer's own rate as xi, SGD and momentum have xi c = 0.025 and Nesterov 0.0475, but RMSprop's and "
          "Adam's c = 1 / sqrt(second moment) grows as the toy's gradients fade, and RMSprop's moment fades fastest.")
ANSWER_AFTER_THE_RUN = ''
ANSWER_AFTER_THE_SEARCH = ''


def eq7_terms(alpha, w, w_prime, dw_dg, xi):
    # toy: L_val = alpha w - 2 alpha + 1, so dL_val/dalpha = w - 2 and dL_val/dw = alpha;
    #      L_train = (w - alpha)^2, so d2L_train/(dalpha dw) = -2
    direct = w_prime - 2  # Eq. 7's first term, grad_alpha L_val at (w', alpha)
    u = dw_dg / -xi * alpha  # u = ((dw'/dg) / (-xi)) grad_w' L_val(w', alpha)
    implicit = -xi * -2 * u  # Eq. 7's second term: -xi grad2_{alpha,w} L_train . u  (= -2 (dw'/dg) alpha)
    return direct, implicit


def settled_alpha(xi, c):
    # settled: w = w' = alpha and dw'/dg = -xi c, so eq7_terms gives (alpha - 2) + 2 xi c alpha = 0
    return 2 / (1 + 2 * xi * c)
