/* ops_table.c — the one table of ops: name and backward function, indexed by enum aspire_op. */
#include "engine/internal.h"
#include "engine/ops.h"

#include <assert.h>

const aspire_op_info aspire_op_table[ASPIRE_OP_COUNT] = {
    [ASPIRE_OP_RESHAPE] = {"reshape", aspire_bwd_reshape},
    [ASPIRE_OP_TRANSPOSE] = {"transpose", aspire_bwd_transpose},
    [ASPIRE_OP_CONCAT] = {"concat", aspire_bwd_concat},
    [ASPIRE_OP_SLICE] = {"slice", aspire_bwd_slice},
    [ASPIRE_OP_ADD] = {"add", aspire_bwd_add},
    [ASPIRE_OP_SUB] = {"sub", aspire_bwd_sub},
    [ASPIRE_OP_MUL] = {"mul", aspire_bwd_mul},
    [ASPIRE_OP_SCALE] = {"scale", aspire_bwd_scale},
    [ASPIRE_OP_RELU] = {"relu", aspire_bwd_relu},
    [ASPIRE_OP_SILU] = {"silu", aspire_bwd_silu},
    [ASPIRE_OP_GELU] = {"gelu", aspire_bwd_gelu},
    [ASPIRE_OP_SIGMOID] = {"sigmoid", aspire_bwd_sigmoid},
    [ASPIRE_OP_TANH] = {"tanh", aspire_bwd_tanh},
    [ASPIRE_OP_DROPOUT] = {"dropout", aspire_bwd_dropout},
    [ASPIRE_OP_SUM] = {"sum", aspire_bwd_sum},
    [ASPIRE_OP_MEAN] = {"mean", aspire_bwd_mean},
    [ASPIRE_OP_LINEAR] = {"linear", aspire_bwd_linear},
    [ASPIRE_OP_MATMUL] = {"matmul", aspire_bwd_matmul},
    [ASPIRE_OP_EMBEDDING] = {"embedding", aspire_bwd_embedding},
    [ASPIRE_OP_SOFTMAX] = {"softmax", aspire_bwd_softmax},
    [ASPIRE_OP_LOG_SOFTMAX] = {"log_softmax", aspire_bwd_log_softmax},
    [ASPIRE_OP_ATTENTION] = {"attention", aspire_bwd_attention},
    [ASPIRE_OP_LAYERNORM] = {"layernorm", aspire_bwd_layernorm},
    [ASPIRE_OP_CONV2D] = {"conv2d", aspire_bwd_conv2d},
    [ASPIRE_OP_CONV_TRANSPOSE2D] = {"conv_transpose2d", aspire_bwd_conv_transpose2d},
    [ASPIRE_OP_UPSAMPLE_NEAREST] = {"upsample_nearest", aspire_bwd_upsample_nearest},
    [ASPIRE_OP_MAXPOOL2D] = {"maxpool2d", aspire_bwd_maxpool2d},
    [ASPIRE_OP_AVGPOOL2D] = {"avgpool2d", aspire_bwd_avgpool2d},
    [ASPIRE_OP_GLOBAL_AVGPOOL] = {"global_avgpool", aspire_bwd_global_avgpool},
    [ASPIRE_OP_BATCHNORM] = {"batchnorm", aspire_bwd_batchnorm},
    [ASPIRE_OP_GROUPNORM] = {"groupnorm", aspire_bwd_groupnorm},
    [ASPIRE_OP_CROSS_ENTROPY] = {"cross_entropy", aspire_bwd_cross_entropy},
    [ASPIRE_OP_MSE] = {"mse", aspire_bwd_mse},
};

static_assert(sizeof aspire_op_table / sizeof aspire_op_table[0] == ASPIRE_OP_COUNT,
              "every op has a row in the table");
static_assert(ASPIRE_OP_MSE + 1 == ASPIRE_OP_COUNT, "the table's last row is the enum's last op");
