"""The bench's generated inventories are valid stack config of the requested size."""

from components.config import SECRET_KEYS
from components.stack_config import validate_config
from offline.bench import generated_inventory


def test_generated_inventory_is_valid_and_sized():
    config = generated_inventory(40)["config"]
    raw = {
        key.split(":", 1)[1]: value
        for key, value in config.items()
        if key.startswith("deepseek-onprem:") and key.split(":", 1)[1] not in SECRET_KEYS
    }
    platform = validate_config(raw)
    gpu_hosts = [h for _, h in platform.all_hosts if h.gpu]
    assert len(gpu_hosts) == 40
    assert len(platform.all_hosts) == 40 + 2 * 6
