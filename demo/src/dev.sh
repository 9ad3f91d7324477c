#!/bin/sh
export NOMOTIC_DEV_KEY=nm_test_J4pttkTB2tXXdbFZ5ljf3Hbgzw3m4fZ6
curl -H "Authorization: Bearer $NOMOTIC_DEV_KEY" https://amp.nomotic.ai/api/v1/agents
