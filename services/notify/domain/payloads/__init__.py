"""Pure builders of what goes on the wire: Alertmanager webhook JSON, Standard Webhooks
signatures, WeCom and DingTalk robot messages, e-mail."""
