"""The snippet a customer pastes into their site: PostHog's standard loader, pointed at this server."""

from __future__ import annotations

import json
from typing import Any

# PostHog's standard snippet, as its docs give it: it loads `<api_host>/static/array.js` and queues the
# calls made before the library arrives.
LOADER = (
    '!function(t,e){var o,n,p,r;e.__SV||(window.posthog&&window.posthog.__loaded)||(window.posthog=e,e._i=[],'
    'e.init=function(i,s,a){function g(t,e){var o=e.split(".");2==o.length&&(t=t[o[0]],e=o[1]),t[e]=function(){'
    "t.push([e].concat(Array.prototype.slice.call(arguments,0)))}}(p=t.createElement(\"script\")).type="
    '"text/javascript",p.crossOrigin="anonymous",p.async=!0,p.src=s.api_host.replace(".i.posthog.com",'
    '"-assets.i.posthog.com")+"/static/array.js",(r=t.getElementsByTagName("script")[0]).parentNode.insertBefore(p,r);'
    'var u=e;for(void 0!==a?u=e[a]=[]:a="posthog",u.people=u.people||[],u.toString=function(t){var e="posthog";'
    'return"posthog"!==a&&(e+="."+a),t||(e+=" (stub)"),e},u.people.toString=function(){return u.toString(1)+'
    '".people (stub)"},o="init capture register register_once register_for_session unregister '
    "unregister_for_session getFeatureFlag getFeatureFlagPayload isFeatureEnabled reloadFeatureFlags "
    "updateEarlyAccessFeatureEnrollment getEarlyAccessFeatures on onFeatureFlags onSessionId getSurveys "
    "getActiveMatchingSurveys renderSurvey canRenderSurvey getNextSurveyStep identify setPersonProperties group "
    "resetGroups setPersonPropertiesForFlags resetPersonPropertiesForFlags setGroupPropertiesForFlags "
    "resetGroupPropertiesForFlags reset get_distinct_id getGroups get_session_id get_session_replay_url alias "
    "set_config startSessionRecording stopSessionRecording sessionRecordingStarted captureException loadToolbar "
    "get_property getSessionProperty createPersonProfile opt_in_capturing opt_out_capturing has_opted_in_capturing "
    'has_opted_out_capturing clear_opt_in_out_capturing debug".split(" "),n=0;n<o.length;n++)g(u,o[n]);'
    'e._i.push([i,s,a])},e.__SV=1)}(document,window.posthog||[]);'
)


def install_snippet(api_host: str, token: str, extra_options: dict[str, Any] | None = None) -> str:
    """The <script> to paste before </head>: the loader, then init with our host and heatmaps on."""
    options = {"api_host": api_host.rstrip("/"), "enable_heatmaps": True, **(extra_options or {})}
    lines = ",\n".join(f"    {name}: {json.dumps(value)}" for name, value in options.items())
    return f"<script>\n  {LOADER}\n  posthog.init({json.dumps(token)}, {{\n{lines},\n  }});\n</script>"
