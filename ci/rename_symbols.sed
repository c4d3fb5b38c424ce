# Library-internal symbols get the rcl_ prefix (the names librcl.a exported
# without it; ci/check_symbols.sh keeps it that way). Idempotent: re-apply
# after a merge that brings new uses of the old names:
#   git ls-files '*.c' '*.h' '*.md' | xargs sed -i -f ci/rename_symbols.sed
s/\bbn_layer_backward\b/rcl_bn_layer_backward/g
s/\bbn_layer_forward\b/rcl_bn_layer_forward/g
s/\bbn_layer_free\b/rcl_bn_layer_free/g
s/\bbn_layer_init\b/rcl_bn_layer_init/g
s/\bconv_layer_backward\b/rcl_conv_layer_backward/g
s/\bconv_layer_flops\b/rcl_conv_layer_flops/g
s/\bconv_layer_forward\b/rcl_conv_layer_forward/g
s/\bconv_layer_init\b/rcl_conv_layer_init/g
s/\binit_constant\b/rcl_init_constant/g
s/\binit_kaiming_normal_fan_out\b/rcl_init_kaiming_normal_fan_out/g
s/\binit_linear_default\b/rcl_init_linear_default/g
s/\bjson_buf_free\b/rcl_json_buf_free/g
s/\bjson_buf_puts\b/rcl_json_buf_puts/g
s/\bjson_buf_string\b/rcl_json_buf_string/g
s/\bjson_buf_u64\b/rcl_json_buf_u64/g
s/\bjson_free\b/rcl_json_free/g
s/\bjson_get\b/rcl_json_get/g
s/\bjson_parse\b/rcl_json_parse/g
s/\bjson_utf8_valid\b/rcl_json_utf8_valid/g
s/\bmodel_add_buffer\b/rcl_model_add_buffer/g
s/\bmodel_add_counter\b/rcl_model_add_counter/g
s/\bmodel_add_module\b/rcl_model_add_module/g
s/\bmodel_add_param\b/rcl_model_add_param/g
s/\bmodel_out_shape\b/rcl_model_out_shape/g
s/\bmodel_tensor\b/rcl_model_tensor/g
s/\bmodule_alloc_io\b/rcl_module_alloc_io/g
s/\bmodule_avgpool_create\b/rcl_module_avgpool_create/g
s/\bmodule_basic_create\b/rcl_module_basic_create/g
s/\bmodule_bottleneck_create\b/rcl_module_bottleneck_create/g
s/\bmodule_free_io\b/rcl_module_free_io/g
s/\bmodule_linear_create\b/rcl_module_linear_create/g
s/\bmodule_maxpool_create\b/rcl_module_maxpool_create/g
s/\bmodule_stem_create\b/rcl_module_stem_create/g
