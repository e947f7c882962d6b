# The GPU machine's environment for the scripts of this folder; source it from the repo root.
# Builds and models live under $GPU_WORK (default $HOME/starling-gpu), outside the repo: they
# outlive a call while the machine stays warm. Python finds llama_cpp in .gpu/ (prepare.sh) or
# in $work/site, and llama_cpp loads the CUDA libllama built in $build.
work=${GPU_WORK:-$HOME/starling-gpu}
build=$work/llama-build
mkdir -p "$work"
export PYTHONPATH=$work/site:$PWD/.gpu:$PWD
export LLAMA_CPP_LIB_PATH=$build/bin
export PYTHONUNBUFFERED=1
export MISTRAL_TOKENIZER_MODEL=$PWD/.gpu/tokenizer.model
