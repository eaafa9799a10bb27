-- Does any business let its widget run on this origin? The CORS check of the widget routes,
-- asked before a token (or a business) is known: a preflight carries neither.
-- Served by businesses_widget_origins_idx (GIN, migration 0140).
SELECT EXISTS (
  SELECT 1 FROM mia.businesses WHERE widget_origins @> ARRAY[:origin::text]
) AS known
