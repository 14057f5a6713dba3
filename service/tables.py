"""Every module that defines tables, imported so that Base.metadata knows them all.

Alembic's environment and the migration drift test use this; nothing else needs it.
"""

from community import activity, bot_section  # noqa: F401
from community.constellations import leadership, sync_runs  # noqa: F401
from community.constellations import models as constellation_models  # noqa: F401
from community.credits import models as credit_models  # noqa: F401
from community.health import first_posts  # noqa: F401
from community.health import models as health_models  # noqa: F401
from community.practices import models as practice_models  # noqa: F401
from core import forum_budget_ledgers  # noqa: F401
from core.models import Base
from dashboards import models as dashboard_models  # noqa: F401
from webhooks.automations import models as automation_models  # noqa: F401
from webhooks.incoming import refusal_model  # noqa: F401
from webhooks.outgoing import models  # noqa: F401

metadata = Base.metadata
